"""The Gradio UI in real Chromium, over the real engine (tiny LLM), Chroma, SQLite and recommender."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assistant.shop.feedback import FeedbackStore
from assistant.web.api import create_app

pytestmark = pytest.mark.browser


def test_ui_chat_cards_recommendations_feedback_handoff_operator(
    browser_page, engine_settings, engine_assistant, serve, screenshots
):
    page = browser_page
    with serve(create_app(engine_settings, engine_assistant, ui=True)) as base:
        page.goto(base + "/", wait_until="load")
        page.locator("#message textarea").wait_for()

        # a demo customer: the recommendations panel fills
        page.locator("#customer input").click()
        page.get_by_role("option").filter(has_text="Maya Okafor (C001)").click()
        page.locator("#recs .sb-card").first.wait_for()

        # chat: a streamed, grounded answer with product cards
        page.locator("#message textarea").fill("show me tents for two")
        page.keyboard.press("Enter")
        page.locator("#cards .sb-card").first.wait_for()
        answer = page.locator("#chat [data-testid=bot]").last
        answer.wait_for()
        expect(answer).to_contain_text("Tent")  # retried: the cards can land before the streamed text has
        page.screenshot(path=str(screenshots / "ui-chat.png"), full_page=True)

        # viewing a product records a view event for the customer and refreshes the panel
        card = page.locator("#cards .sb-card").first
        product_id = card.get_attribute("data-product-id")
        card.click()
        page.locator("#viewing").filter(has_text="Recorded a view for C001").wait_for()
        recent = engine_assistant.recommender.events.recent("C001", 5)
        assert any(e.type == "view" and e.product_id == product_id for e in recent)

        # thumbs down with a comment is stored for fine-tuning
        page.locator("#chat button[aria-label=Dislike]").last.click()
        page.locator("#status").filter(has_text="thumbs down").wait_for()
        page.locator("#comment textarea").fill("I asked for a two-person tent")
        page.locator("#comment-send").click()
        page.locator("#status").filter(has_text="Comment saved").wait_for()
        stored = FeedbackStore(engine_settings.db_path).list()
        assert [(f.rating, f.comment, f.source) for f in stored] == [(-1, "I asked for a two-person tent", "ui")]
        assert "Tent" in stored[0].reply and stored[0].user_message == "show me tents for two"

        # talk to a human: a ticket
        page.locator("#human").click()
        page.locator("#chat").filter(has_text=re.compile("ticket", re.I)).wait_for()

        # new session: an empty chat
        page.locator("#new-session").click()
        page.locator("#chat [data-testid=bot]").first.wait_for(state="detached")

        # operator tab: catalog search and product copy
        page.get_by_role("tab", name="Operator").click()
        page.locator("#op-query textarea").fill("headlamp")
        page.keyboard.press("Enter")
        page.locator("#op-results").filter(has_text="TH-").wait_for()
        page.locator("#op-product textarea").fill(product_id)
        page.get_by_role("button", name="Generate copy").click()
        page.locator("#op-copy").filter(has_text="claims supported by the product data").wait_for()
        page.screenshot(path=str(screenshots / "ui-operator.png"), full_page=True)
