"""The Gradio UI's pieces and its mounting into the FastAPI app (served over real HTTP)."""

from __future__ import annotations

import httpx

from assistant.config import DEMO_SHOP_DIR, get_settings
from assistant.web.api import create_app
from assistant.web.ui import cards_html, demo_customers


def test_cards_show_title_price_stock_reason_and_escape_html():
    html = cards_html([
        {"id": "p1", "title": "<script>alert(1)</script> Boot", "price": 84.95, "currency": "USD", "stock": 0,
         "in_stock": False, "image": None, "reason": "because you viewed tents"},
        {"id": "p2", "title": "Tent", "price": 10, "currency": "EUR", "stock": 4, "in_stock": True, "image": "javascript:x"},
    ])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "$84.95" in html and "Out of stock" in html and "because you viewed tents" in html
    assert "€10.00" in html and "In stock (4)" in html
    assert "javascript:" not in html  # only http(s) or same-site images are shown
    assert 'data-product-id="p1"' in html and 'tabindex="0"' in html
    assert "Choose" in cards_html([], "Choose a customer")


def test_demo_customers_come_from_the_shop():
    choices = demo_customers(DEMO_SHOP_DIR)
    assert choices[0] == ("Guest (not signed in)", "")
    assert ("Maya Okafor (C001)", "C001") in choices and len(choices) > 20


def test_ui_is_mounted_beside_the_api(serve):
    class Idle:
        def chat(self, session_id, message, user_id=None):
            yield {"type": "done", "data": {"session": "s", "reply": "hi", "products": [], "citations": []}}

    app = create_app(get_settings(), Idle(), ui=True)
    with serve(app) as base:
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert httpx.get(f"{base}/v1/health").json()["status"] == "ok"
        widget = httpx.get(f"{base}/static/widget.js")
        assert widget.status_code == 200 and "Shopbot chat widget" in widget.text  # ours, not shadowed by Gradio
        assert httpx.get(f"{base}/config").status_code == 200  # Gradio's own routes still work
