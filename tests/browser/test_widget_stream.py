"""The widget reads sse-starlette's stream in real Chromium: keep-alive `: ping` comments between events are skipped."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from assistant.config import get_settings
from assistant.web.api import create_app
from assistant.web.keys import KeyStore

pytestmark = pytest.mark.browser


class PacedAssistant:
    """Streams its reply a word every 0.3 s (the server pings every 0.05 s in between); `done` carries no reply,
    so what the widget shows is exactly what it assembled from the `token` events."""

    WORDS = ["Pings ", "are ", "not ", "text."]

    def chat(self, session_id, message, user_id=None):
        session = session_id or secrets.token_urlsafe(16)
        yield {"type": "token", "data": {"text": "", "session": session}}
        for word in self.WORDS:
            time.sleep(0.3)
            yield {"type": "token", "data": {"text": word}}
        yield {"type": "done", "data": {"session": session, "intent": "smalltalk", "products": [], "citations": []}}


def test_widget_skips_keepalive_comments(browser_page, free_port, serve, monkeypatch, screenshots):
    monkeypatch.setenv("SHOPBOT_API__SSE_PING_S", "0.05")
    monkeypatch.setenv("SHOPBOT_API__RATE_LIMIT_PER_MINUTE", "1000")
    settings = get_settings()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    _, key = KeyStore(settings.db_path).create("site", [origin], "demo")
    with serve(create_app(settings, PacedAssistant(), ui=False, demo_site_key=key), port):
        # the stream the widget reads does interleave comments with the events
        raw = httpx.post(f"{origin}/v1/chat", json={"message": "hi"}, headers={"X-Shopbot-Key": key, "Origin": origin},
                         timeout=30).text
        assert raw.count("\n: ping") >= 10, raw

        page = browser_page
        page.goto(f"{origin}/demo", wait_until="load")
        page.locator("#shopbot-widget .bubble").click()
        page.locator("#shopbot-widget input").fill("hi")
        page.keyboard.press("Enter")
        reply = page.locator("#shopbot-widget .msg.bot[aria-busy=false]").last
        reply.wait_for()
        page.screenshot(path=str(screenshots / "widget-stream-with-pings.png"))
        assert reply.inner_text().strip() == "".join(PacedAssistant.WORDS)
        assert page.locator("#shopbot-widget .msg.error").count() == 0
        assert page.evaluate("window.Shopbot.session()")
