"""Cart actions reach the shop's page in real Chromium: the widget turns the assistant's `action` events into
`shopbot:add-to-cart`, `shopbot:remove-from-cart` and `shopbot:cart` CustomEvents on `document`, and the demo
page's cart badge follows them (docs/api.md, "Cart events")."""

from __future__ import annotations

import secrets
from contextlib import ExitStack

import pytest

from assistant.config import get_settings
from assistant.web.api import create_app
from assistant.web.keys import KeyStore

pytestmark = pytest.mark.browser

# Listens on `window`, so what it records also shows the events bubble up from `document`.
RECORDER = """
window.__cart = [];
["shopbot:add-to-cart", "shopbot:remove-from-cart", "shopbot:cart"].forEach(function (name) {
  window.addEventListener(name, function (e) {
    window.__cart.push({type: e.type, detail: e.detail, bubbles: e.bubbles,
                        target: e.target === document ? "document" : String(e.target)});
  });
});
"""


class CartAssistant:
    """Answers each message with the `action` events the engine's cart emits (assistant/conversation/shopping.py),
    with extra keys the widget must neither trip over nor pass on."""

    ACTIONS = {
        "add": [{"action": "add_to_cart", "status": "done", "product_id": "TH-BOOT-015", "sku": "TH-BOOT-015-9-BROWN",
                 "quantity": 1, "cart_count": 3, "cart_total": 249.9,
                 "title": "Tarn High Boot", "variant": {"size": "9", "colour": "Brown"}, "unit_price": 124.95}],
        "which size": [{"action": "add_to_cart", "status": "needs_choice", "product_id": "TH-BOOT-015", "choice": "size",
                        "options": ["8", "9", "10"]}],
        "remove": [{"action": "remove_from_cart", "status": "done", "product_id": "TH-BOOT-015",
                    "sku": "TH-BOOT-015-9-BROWN", "quantity": 1, "cart_count": 2, "cart_total": 125.0, "why": "asked"}],
        "view": [{"action": "view_cart", "status": "done", "cart_count": 2, "cart_total": 125.0, "lines": [{"sku": "x"}]}],
        # not cart events: an order action with a message, a refused add, an action the widget does not know
        "other": [{"action": "cancel_order", "status": "done", "order_id": "SB-10051", "message": "Order SB-10051 is cancelled."},
                  {"action": "add_to_cart", "status": "refused", "product_id": "TH-BOOT-001", "choice": None, "options": []},
                  {"action": "wishlist_add", "status": "done", "product_id": "TH-BOOT-001", "cart_count": "many"},
                  {"status": "done"}],
    }

    def chat(self, session_id, message, user_id=None):
        session = session_id or secrets.token_urlsafe(16)
        reply = f"Done: {message}."
        yield {"type": "token", "data": {"text": reply, "session": session}}
        for action in self.ACTIONS[message]:
            yield {"type": "action", "data": action}
        yield {"type": "done", "data": {"session": session, "intent": "cart", "reply": reply, "products": [], "citations": []}}


@pytest.fixture
def demo_page(browser_page, free_port, serve, monkeypatch):
    """Serve /demo for an assistant; yields `open(assistant) -> page` with the cart-event recorder installed."""
    monkeypatch.setenv("SHOPBOT_API__RATE_LIMIT_PER_MINUTE", "1000")
    settings = get_settings()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    _, key = KeyStore(settings.db_path).create("site", [origin], "demo")
    page = browser_page
    page.add_init_script(RECORDER)
    with ExitStack() as servers:

        def open_demo(assistant):
            servers.enter_context(serve(create_app(settings, assistant, ui=False, demo_site_key=key), port))
            page.goto(f"{origin}/demo", wait_until="load")
            page.locator("#shopbot-widget .bubble").click()
            return page

        yield open_demo


def say(page, text: str) -> str:
    """Send `text` in the widget and wait for its finished reply; returns the reply's text."""
    done = page.locator("#shopbot-widget .msg.bot[aria-busy=false]")
    before = done.count()
    page.locator("#shopbot-widget input").fill(text)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.getElementById('shopbot-widget').shadowRoot"
        ".querySelectorAll('.msg.bot[aria-busy=false]').length > n", arg=before)
    return done.last.inner_text()


def recorded(page) -> list[dict]:
    return page.evaluate("window.__cart")


def test_widget_dispatches_cart_events_and_demo_badge_follows(demo_page, screenshots):
    errors: list[str] = []
    page = demo_page(CartAssistant())
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    badge = page.locator("#cart-count")
    assert badge.inner_text() == "0"

    say(page, "add")
    assert recorded(page) == [
        {"type": "shopbot:add-to-cart", "bubbles": True, "target": "document",
         "detail": {"product_id": "TH-BOOT-015", "sku": "TH-BOOT-015-9-BROWN", "quantity": 1, "cart_count": 3,
                    "cart_total": 249.9}},
        {"type": "shopbot:cart", "bubbles": True, "target": "document",
         "detail": {"action": "add_to_cart", "cart_count": 3, "cart_total": 249.9}},
    ]
    assert badge.inner_text() == "3"
    assert "TH-BOOT-015-9-BROWN" in page.locator("#cart-last").inner_text()
    page.screenshot(path=str(screenshots / "widget-cart-added.png"))

    say(page, "which size")  # a question back: nothing is in the cart yet, so the page hears nothing
    assert len(recorded(page)) == 2 and badge.inner_text() == "3"

    say(page, "remove")
    assert recorded(page)[2:] == [
        {"type": "shopbot:remove-from-cart", "bubbles": True, "target": "document",
         "detail": {"product_id": "TH-BOOT-015", "sku": "TH-BOOT-015-9-BROWN", "quantity": 1, "cart_count": 2,
                    "cart_total": 125.0}},
        {"type": "shopbot:cart", "bubbles": True, "target": "document",
         "detail": {"action": "remove_from_cart", "cart_count": 2, "cart_total": 125.0}},
    ]
    assert badge.inner_text() == "2"

    page.evaluate("document.getElementById('cart-count').textContent = '?'")  # e.g. the page was reloaded
    say(page, "view")
    assert recorded(page)[4:] == [{"type": "shopbot:cart", "bubbles": True, "target": "document",
                                   "detail": {"action": "view_cart", "cart_count": 2, "cart_total": 125.0}}]
    assert badge.inner_text() == "2"

    assert say(page, "other") == "Done: other."
    assert len(recorded(page)) == 5  # none of those is a cart event
    page.locator("#shopbot-widget .msg.note").filter(has_text="Order SB-10051 is cancelled.").wait_for()
    assert page.locator("#shopbot-widget .msg.error").count() == 0
    assert errors == []


def test_widget_keeps_working_when_a_shop_listener_throws(demo_page):
    errors: list[str] = []
    page = demo_page(CartAssistant())
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.evaluate("document.addEventListener('shopbot:add-to-cart', function () { throw new Error('shop bug'); })")
    assert say(page, "add") == "Done: add."
    assert [e["type"] for e in recorded(page)] == ["shopbot:add-to-cart", "shopbot:cart"]
    assert page.locator("#cart-count").inner_text() == "3"  # the other listeners still ran
    assert say(page, "remove") == "Done: remove."
    assert page.locator("#cart-count").inner_text() == "2"
    assert page.locator("#shopbot-widget .msg.error").count() == 0
    assert len(errors) == 1 and "shop bug" in errors[0], errors  # reported by the browser, as for any listener


@pytest.mark.slow
def test_widget_cart_on_the_demo_shop_with_the_real_engine(demo_page, screenshots):
    """The real engine, templates only, on the demo shop: search, then add the first result in a size in stock."""
    from assistant.wiring import build_assistant
    from retrieval.ingest import load_catalog

    settings = get_settings()
    catalog = {p.id: p for p in load_catalog(settings.shop_dir / "catalog.jsonl").products}
    page = demo_page(build_assistant(settings, use_llm=False))

    say(page, "show me hiking boots")
    first = page.locator("#shopbot-widget .card").first
    first.wait_for()
    product = catalog[first.get_attribute("data-product-id")]
    sizes = [v.size for v in product.variants if v.size and (v.stock or 0) > 0]
    assert sizes, f"{product.id} has no size in stock"
    size = "9" if "9" in sizes else sizes[0]
    assert recorded(page) == []

    reply = say(page, f"add the first one in size {size} to my cart")
    page.wait_for_function("window.__cart.length >= 2")
    added, cart = recorded(page)[:2]
    assert added["type"] == "shopbot:add-to-cart", (reply, recorded(page))
    variant = next(v for v in product.variants if v.sku == added["detail"]["sku"])  # a real sku of that product
    assert variant.size == size and (variant.stock or 0) > 0
    assert added["detail"]["product_id"] == product.id
    assert added["detail"]["quantity"] == 1 and added["detail"]["cart_count"] == 1
    assert added["detail"]["cart_total"] == pytest.approx(variant.price or product.price)
    assert cart == {"type": "shopbot:cart", "bubbles": True, "target": "document",
                    "detail": {"action": "add_to_cart", "cart_count": 1, "cart_total": added["detail"]["cart_total"]}}
    assert page.locator("#cart-count").inner_text() == "1"
    assert variant.sku in page.locator("#cart-last").inner_text()
    page.screenshot(path=str(screenshots / "widget-cart-real-engine.png"))
