"""The embeddable widget in real Chromium, on a shop page served from another origin than the API."""

from __future__ import annotations

import pytest

from assistant.web.api import create_app
from assistant.web.auth import CustomerTokens, load_token_secret
from assistant.web.keys import KeyStore

pytestmark = pytest.mark.browser

HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop page</title></head>
<body><h1>A shop's own page</h1><p>Products and more.</p>
<script src="{api}/static/widget.js" data-site-key="{key}" data-title="Shop assistant" {extra} async></script>
</body></html>"""


@pytest.fixture
def widget_setup(tmp_path, engine_assistant, engine_settings, free_port, serve, static_site):
    """(shop page URL, stranger page URL, API URL): the API allows only the shop page's origin."""
    shop_dir, stranger_dir = tmp_path / "shop", tmp_path / "stranger"
    shop_dir.mkdir()
    stranger_dir.mkdir()
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    with static_site(shop_dir) as shop, static_site(stranger_dir) as stranger:
        _, key = KeyStore(engine_settings.db_path).create("site", [shop], "browser test shop")
        for folder in (shop_dir, stranger_dir):
            (folder / "index.html").write_text(HOST_PAGE.format(api=api, key=key, extra=""))
        # the page a signed-in customer sees: the shop's backend minted a token for C001
        secret = engine_settings.api.token_secret
        token = CustomerTokens(load_token_secret(secret.get_secret_value() if secret else None, engine_settings.home)).issue("C001")
        (shop_dir / "account.html").write_text(HOST_PAGE.format(api=api, key=key, extra=f'data-customer-token="{token}"'))
        app = create_app(engine_settings, engine_assistant, ui=False)
        with serve(app, api_port):
            yield shop + "/index.html", stranger + "/index.html", api


def _open(page, url):
    page.goto(url, wait_until="load")
    bubble = page.locator("#shopbot-widget .bubble")
    bubble.wait_for(state="visible")
    return bubble


def test_widget_streams_reply_and_cards_and_keeps_session(browser_page, widget_setup, screenshots):
    page = browser_page
    shop, _, api = widget_setup
    bubble = _open(page, shop)
    assert bubble.get_attribute("aria-expanded") == "false"
    bubble.focus()
    page.keyboard.press("Enter")  # opens with the keyboard
    panel = page.locator("#shopbot-widget .panel")
    panel.wait_for(state="visible")
    assert bubble.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.getElementById('shopbot-widget').shadowRoot.activeElement.id") == "sb-input"
    assert page.locator("#shopbot-widget [role=log]").get_attribute("aria-live") == "polite"

    page.keyboard.type("waterproof hiking boots")
    page.keyboard.press("Enter")
    page.locator("#shopbot-widget .msg.user").filter(has_text="waterproof hiking boots").wait_for()
    reply = page.locator("#shopbot-widget .msg.bot[aria-busy=false]").last
    reply.wait_for()
    assert reply.inner_text().strip()
    cards = page.locator("#shopbot-widget .card")
    cards.first.wait_for()
    assert cards.count() >= 1
    assert "$" in cards.first.inner_text() or "stock" in cards.first.inner_text().lower()
    cards.first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "widget-reply.png"))
    session = page.evaluate("window.Shopbot.session()")
    assert session

    # the conversation survives a page load
    page.reload(wait_until="load")
    _open(page, shop).click()
    page.locator("#shopbot-widget .msg.user").filter(has_text="waterproof hiking boots").wait_for()
    assert page.evaluate("window.Shopbot.session()") == session

    # Escape closes the panel and gives focus back to the bubble
    page.locator("#shopbot-widget input").focus()
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert page.evaluate("document.getElementById('shopbot-widget').shadowRoot.activeElement.className") == "bubble"

    # a signed-in customer's page passes the signed token: the assistant can answer about their order
    _open(page, shop.replace("index.html", "account.html")).click()
    page.locator("#shopbot-widget input").fill("where is my order SB-10051?")
    page.keyboard.press("Enter")
    answer = page.locator("#shopbot-widget .msg.bot[aria-busy=false]").last
    answer.wait_for()
    assert "SB-10051" in answer.inner_text()
    page.screenshot(path=str(screenshots / "widget-customer-order.png"))


def test_widget_on_disallowed_origin_gets_no_answer(browser_page, widget_setup, screenshots):
    page = browser_page
    _, stranger, _ = widget_setup
    _open(page, stranger).click()
    page.locator("#shopbot-widget input").fill("show me tents")
    page.keyboard.press("Enter")
    page.locator("#shopbot-widget .msg.error").wait_for()
    page.screenshot(path=str(screenshots / "widget-refused-origin.png"))
    assert page.locator("#shopbot-widget .msg.bot[aria-busy]").count() == 0  # no reply was ever started
    assert page.locator("#shopbot-widget .card").count() == 0
    assert page.evaluate("window.Shopbot.session()") is None
