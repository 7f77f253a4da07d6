"""HTTP API over real HTTP (uvicorn on a loopback port, real SQLite key/session/feedback stores).

Most tests swap the assistant for `ScriptedAssistant` (it follows the engine's event contract), so they
check the HTTP layer alone and run in seconds; `test_chat_with_real_engine` runs the real engine.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import Request  # module level: the OpenAI-compatible stand-in's route annotation must resolve

from assistant.config import get_settings
from assistant.shop.feedback import FeedbackStore
from assistant.web.api import create_app
from assistant.web.auth import load_token_secret
from assistant.web.keys import KeyStore

SHOP = "http://shop.test:8080"


class ScriptedAssistant:
    """Answers every turn with three tokens, one product card and `done`, as `assistant.conversation.engine` does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str, str | None]] = []

    def chat(self, session_id, message, user_id=None):
        self.calls.append((session_id, message, user_id))
        session = session_id or secrets.token_urlsafe(16)
        reply = f"You said: {message}"
        for word in reply.split(" "):
            yield {"type": "token", "data": {"text": word + " "}}
        card = {"id": "p1", "title": "Trail Boot", "price": 120.0, "currency": "USD", "stock": 3, "in_stock": True,
                "url": None, "image": None, "reason": "matches 'boots'"}
        yield {"type": "products", "data": {"products": [card]}}
        yield {"type": "done", "data": {"session": session, "intent": "product_search", "reply": reply,
                                        "products": [card], "citations": []}}


def sse_events(text: str) -> list[dict]:
    """The `event:`/`data:` frames of a stream; comment frames (`: ping ...` keep-alives) are skipped."""
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if not line.startswith(":"))
        if lines:
            events.append({"type": lines["event"], "data": json.loads(lines["data"])})
    return events


@pytest.fixture
def api(serve, monkeypatch):
    """(base_url, keys dict, scripted assistant, settings) for a live API with a site and a secret key."""
    monkeypatch.setenv("SHOPBOT_API__RATE_LIMIT_PER_MINUTE", "1000")
    settings = get_settings()
    store = KeyStore(settings.db_path)
    _, site = store.create("site", [SHOP], "shop")
    _, other_site = store.create("site", ["http://other.test"], "other")
    _, secret = store.create("secret", name="backend")
    bot = ScriptedAssistant()
    app = create_app(settings, bot, ui=False)
    with serve(app) as base:
        yield base, {"site": site, "other": other_site, "secret": secret}, bot, settings


def chat(base, key, origin=SHOP, **body):
    headers = {"X-Shopbot-Key": key}
    if origin:
        headers["Origin"] = origin
    return httpx.post(f"{base}/v1/chat", json={"message": "boots", **body}, headers=headers, timeout=30)


def test_health_needs_no_key_and_docs_list_routes(api):
    base, *_ = api
    assert httpx.get(f"{base}/v1/health").json()["status"] == "ok"
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    for path in ["/v1/chat", "/v1/search", "/v1/recommendations", "/v1/events", "/v1/feedback", "/v1/copy", "/v1/health"]:
        assert path in paths
    assert httpx.get(f"{base}/docs").status_code == 200


def test_chat_streams_server_sent_events(api):
    base, keys, bot, _ = api
    response = chat(base, keys["site"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["access-control-allow-origin"] == SHOP
    events = sse_events(response.text)
    assert [e["type"] for e in events][-2:] == ["products", "done"]
    assert "".join(e["data"]["text"] for e in events if e["type"] == "token").strip() == "You said: boots"
    assert events[-1]["data"]["session"]


def test_chat_refused_without_valid_key(api):
    base, keys, bot, _ = api
    no_key = httpx.post(f"{base}/v1/chat", json={"message": "hi"}, headers={"Origin": SHOP})
    assert no_key.status_code == 401 and "X-Shopbot-Key" in no_key.json()["detail"]
    assert chat(base, "sb_site_forged").status_code == 401
    assert bot.calls == []


def test_site_key_refused_from_other_origin_and_without_origin(api):
    base, keys, bot, _ = api
    wrong = chat(base, keys["site"], origin="http://evil.test")
    assert wrong.status_code == 403 and "evil.test" in wrong.json()["detail"]
    assert "access-control-allow-origin" not in wrong.headers
    assert chat(base, keys["site"], origin="http://other.test").status_code == 403  # allowed for another key only
    assert chat(base, keys["site"], origin=None).status_code == 403
    assert bot.calls == []


def test_cors_preflight_follows_site_key_allowlists(api):
    base, *_ = api
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-shopbot-key"}
    ok = httpx.options(f"{base}/v1/chat", headers={"Origin": SHOP, **ask})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SHOP
    assert "x-shopbot-key" in ok.headers["access-control-allow-headers"]
    refused = httpx.options(f"{base}/v1/chat", headers={"Origin": "http://evil.test", **ask})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_secret_key_works_server_to_server(api):
    base, keys, bot, _ = api
    response = chat(base, keys["secret"], origin=None, stream=False)
    assert response.status_code == 200
    assert response.json()["reply"] == "You said: boots"
    assert response.json()["products"][0]["id"] == "p1"


def test_session_continues_only_for_its_key_and_customer(api):
    base, keys, bot, _ = api
    session = chat(base, keys["site"], stream=False).json()["session"]
    assert chat(base, keys["site"], session_id=session, stream=False).status_code == 200
    assert bot.calls[-1][0] == session
    # another key, another customer, or an unknown id cannot continue (or read) it
    assert chat(base, keys["secret"], origin=None, session_id=session).status_code == 404
    token = httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "c001"}, headers={"X-Shopbot-Key": keys["secret"]}).json()["token"]
    assert chat(base, keys["site"], session_id=session, customer_token=token).status_code == 404
    assert chat(base, keys["site"], session_id="made-up").status_code == 404


def test_customer_id_comes_only_from_a_signed_token(api):
    base, keys, bot, _ = api
    minted = httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "c007", "ttl_s": 120},
                        headers={"X-Shopbot-Key": keys["secret"]})
    assert minted.status_code == 200
    token = minted.json()["token"]
    assert chat(base, keys["site"], customer_token=token, stream=False).status_code == 200
    assert bot.calls[-1][2] == "c007"
    httpx.post(f"{base}/v1/chat", json={"message": "hi"}, headers={"X-Shopbot-Key": keys["site"], "Origin": SHOP,
                                                                   "X-Customer-Token": token})
    assert bot.calls[-1][2] == "c007"
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused = chat(base, keys["site"], customer_token=forged)
    assert refused.status_code == 401 and "signature" in refused.json()["detail"]
    # a user_id field is not part of the request at all
    assert chat(base, keys["site"], user_id="c007").status_code == 422
    # site keys cannot mint tokens
    assert httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "c007"},
                      headers={"X-Shopbot-Key": keys["site"], "Origin": SHOP}).status_code == 403


def test_tokens_from_any_jwt_library_are_accepted_and_bad_ones_refused(api):
    """A shop's backend in Node or PHP signs an HS256 JWT with the shared secret; the API takes its `sub`."""
    base, keys, bot, settings = api
    secret = load_token_secret(None, settings.home)  # what SHOPBOT_API__TOKEN_SECRET would hold
    now = int(time.time())
    good = jwt.encode({"sub": "C042", "exp": now + 600}, secret, algorithm="HS256")
    assert chat(base, keys["site"], customer_token=good, stream=False).status_code == 200
    assert bot.calls[-1][2] == "C042"
    calls = len(bot.calls)
    header, payload, signature = good.split(".")
    other = jwt.encode({"sub": "C001", "exp": now + 600}, secret, algorithm="HS256").split(".")[1]
    refused = {
        "tampered": (f"{header}.{other}.{signature}", "signature"),
        "expired": (jwt.encode({"sub": "C042", "exp": now - 120}, secret, algorithm="HS256"), "expired"),
        "alg none": (jwt.encode({"sub": "C042", "exp": now + 600}, None, algorithm="none"), "'none'"),
        "HS512": (jwt.encode({"sub": "C042", "exp": now + 600}, secret * 2, algorithm="HS512"), "'HS512'"),
        "no exp": (jwt.encode({"sub": "C042"}, secret, algorithm="HS256"), "'exp'"),
        "other secret": (jwt.encode({"sub": "C042", "exp": now + 600}, b"y" * 48, algorithm="HS256"), "signature"),
    }
    for name, (token, why) in refused.items():
        response = chat(base, keys["site"], customer_token=token)
        assert response.status_code == 401 and why in response.json()["detail"], (name, response.text)
        in_header = httpx.post(f"{base}/v1/chat", json={"message": "hi"},
                               headers={"X-Shopbot-Key": keys["secret"], "X-Customer-Token": token})
        assert in_header.status_code == 401 and why in in_header.json()["detail"], name
    assert len(bot.calls) == calls  # no refused token reached the assistant


class SlowAssistant:
    """Streams up to `total` tokens, one every `delay` s, counting what it computed and noting when it is closed."""

    def __init__(self, total: int = 500, delay: float = 0.02) -> None:
        self.total, self.delay = total, delay
        self.produced = 0
        self.closed = threading.Event()

    def chat(self, session_id, message, user_id=None):
        session = session_id or secrets.token_urlsafe(16)
        try:
            yield {"type": "token", "data": {"text": "", "session": session}}
            for i in range(self.total):
                time.sleep(self.delay)
                self.produced += 1
                yield {"type": "token", "data": {"text": f"w{i} "}}
            yield {"type": "done", "data": {"session": session, "intent": "smalltalk", "reply": "...", "products": [],
                                            "citations": []}}
        finally:
            self.closed.set()


def test_chat_stream_sends_keepalive_pings_between_events(serve, monkeypatch):
    monkeypatch.setenv("SHOPBOT_API__SSE_PING_S", "0.1")
    settings = get_settings()
    _, secret = KeyStore(settings.db_path).create("secret")
    bot = SlowAssistant(total=5, delay=0.25)
    with serve(create_app(settings, bot, ui=False)) as base:
        response = chat(base, secret, origin=None)
    assert response.status_code == 200
    frames = response.text.strip().split("\n\n")
    pings = [f for f in frames if f.startswith(": ping")]
    assert len(pings) >= 3, response.text  # ~1.25 s of tokens with a ping every 0.1 s
    assert all(set(line[0] for line in f.splitlines()) == {":"} for f in pings)  # comments only: clients skip them
    events = sse_events(response.text)
    assert [e["type"] for e in events] == ["token"] * 6 + ["done"]
    assert "\r" not in response.text  # the same `event:`/`data:` lines as before, \n-separated


def test_client_disconnect_stops_the_generation(serve, monkeypatch):
    """A shopper who closes the page stops the turn: the assistant's generator is closed, nothing more is computed."""
    monkeypatch.setenv("SHOPBOT_API__RATE_LIMIT_PER_MINUTE", "1000")
    settings = get_settings()
    _, secret = KeyStore(settings.db_path).create("secret")
    bot = SlowAssistant(total=500, delay=0.02)  # 10 s if nobody stops it
    with serve(create_app(settings, bot, ui=False)) as base:
        with httpx.Client(timeout=30) as client:
            with client.stream("POST", f"{base}/v1/chat", json={"message": "tell me everything"},
                               headers={"X-Shopbot-Key": secret}) as response:
                assert response.status_code == 200
                seen = 0
                for line in response.iter_lines():
                    seen += line.startswith("event: token")
                    if seen >= 5:
                        break
        # the client is gone
        assert bot.closed.wait(timeout=5), f"the generator ran on after the client left ({bot.produced} tokens)"
        produced = bot.produced
        time.sleep(0.3)
        assert bot.produced == produced < bot.total


def test_limits_on_message_length_and_body_size(api):
    base, keys, bot, settings = api
    too_long = chat(base, keys["site"], message="x" * (settings.api.max_message_chars + 1))
    assert too_long.status_code == 413 and "max_message_chars" in too_long.json()["detail"]
    huge = httpx.post(f"{base}/v1/chat", content=b"{" + b" " * (settings.api.max_body_bytes + 10) + b"}",
                      headers={"X-Shopbot-Key": keys["site"], "Origin": SHOP, "Content-Type": "application/json"})
    assert huge.status_code == 413 and "max_body_bytes" in huge.json()["detail"]
    assert bot.calls == []


def test_errors_are_json_with_a_clear_message(api):
    base, keys, *_ = api
    bad = httpx.post(f"{base}/v1/chat", json={"session_id": "x"}, headers={"X-Shopbot-Key": keys["site"], "Origin": SHOP})
    assert bad.status_code == 422 and "message" in bad.json()["detail"]
    missing = httpx.get(f"{base}/v1/nope")
    assert missing.status_code == 404 and "/v1/nope" in missing.json()["detail"]


def test_known_path_with_another_method_is_405_with_allow(api):
    base, keys, *_ = api
    for method, path, allow in [("PUT", "/v1/health", "GET"), ("GET", "/v1/chat", "POST"),
                                ("DELETE", "/v1/products/p1", "GET"), ("PATCH", "/v1/customer-tokens", "POST")]:
        response = httpx.request(method, f"{base}{path}", headers={"X-Shopbot-Key": keys["secret"]})
        assert response.status_code == 405 and response.headers["allow"] == allow, (method, path, response.text)
        assert method in response.json()["detail"]
    assert httpx.put(f"{base}/v1/nope").status_code == 404


def test_422_bodies_match_the_documented_schema(api):
    base, keys, *_ = api
    schema = httpx.get(f"{base}/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if operation.get("parameters") or operation.get("requestBody"):
                documented = operation["responses"]["422"]["content"]["application/json"]["schema"]
                assert documented == {"$ref": "#/components/schemas/ValidationErrorBody"}, (method, path)
    headers = {"X-Shopbot-Key": keys["secret"]}
    for response in [httpx.post(f"{base}/v1/chat", json={"message": "hi", "stream": 0}, headers=headers),  # no coercion
                     httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "c1", "ttl_s": "600"}, headers=headers),
                     httpx.post(f"{base}/v1/feedback", json={"session_id": "s", "rating": "meh"}, headers=headers)]:
        body = response.json()
        assert response.status_code == 422 and set(body) == {"detail", "errors"}, response.text
        assert body["detail"].startswith("Invalid request: ") and {"type", "loc", "msg"} <= set(body["errors"][0])
    # JSON Schema's integer includes 600.0
    assert httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "c1", "ttl_s": 600.0}, headers=headers).status_code == 200


def test_event_rules_are_in_the_schema_and_agree_with_the_store():
    """EventIn states retrieval.recs.events.Event's rules (second copy): both accept and refuse the same events."""
    from pydantic import TypeAdapter, ValidationError

    from assistant.web.api import EventIn
    from retrieval.recs.events import Event

    api_event = TypeAdapter(EventIn)
    cases = [
        {"type": "view", "user_id": "c1", "product_id": "p1"},
        {"type": "view", "user_id": "c1"},
        {"type": "purchase", "user_id": "c1", "product_id": "p1", "value": 2, "ts": "2025-01-01T10:00:00Z"},
        {"type": "purchase", "user_id": "c1", "product_id": "", "value": 2},
        {"type": "search", "user_id": "c1", "context": "boots"},
        {"type": "search", "user_id": "c1", "context": " \t"},
        {"type": "search", "user_id": "c1", "context": "\x1c"},
        {"type": "search", "user_id": "c1"},
        {"type": "rate", "user_id": "c1", "product_id": "p1", "value": 5},
        {"type": "rate", "user_id": "c1", "product_id": "p1", "value": 6},
        {"type": "rate", "user_id": "c1", "product_id": "p1"},
        {"type": "rate", "user_id": "c1", "value": 3},
        {"type": "click", "user_id": "", "product_id": "p1"},
    ]
    for case in cases:
        try:
            Event(**case)
            stored = True
        except ValidationError:
            stored = False
        try:
            api_event.validate_python(case)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == stored, case
    schema = api_event.json_schema()
    rate = schema["$defs"]["RateEventIn"]
    assert set(rate["required"]) >= {"type", "user_id", "product_id", "value"}
    assert (rate["properties"]["value"]["minimum"], rate["properties"]["value"]["maximum"]) == (1, 5)


def test_secret_only_endpoints_refuse_site_keys(api):
    base, keys, *_ = api
    site = {"X-Shopbot-Key": keys["site"], "Origin": SHOP}
    assert httpx.post(f"{base}/v1/events", json={"events": [{"type": "view", "user_id": "c1", "product_id": "p1"}]},
                      headers=site).status_code == 403
    assert httpx.post(f"{base}/v1/copy", json={"product_id": "p1"}, headers=site).status_code == 403


def test_feedback_is_stored_for_own_session_only(api):
    base, keys, bot, settings = api
    session = chat(base, keys["site"], stream=False).json()["session"]
    headers = {"X-Shopbot-Key": keys["site"], "Origin": SHOP}
    body = {"session_id": session, "rating": "down", "comment": "wrong size", "message": "boots", "reply": "You said: boots"}
    assert httpx.post(f"{base}/v1/feedback", json=body, headers=headers).status_code == 200
    stored = FeedbackStore(settings.db_path).list()
    assert [(f.rating, f.comment, f.session_id) for f in stored] == [(-1, "wrong size", session)]
    assert httpx.post(f"{base}/v1/feedback", json={**body, "session_id": "someone-else"}, headers=headers).status_code == 404


def test_revoked_key_stops_working(api):
    base, keys, *_ = api
    store = KeyStore(get_settings().db_path)
    record = next(k for k in store.list() if k.name == "shop")
    assert chat(base, keys["site"]).status_code == 200
    store.revoke(record.id)
    assert chat(base, keys["site"]).status_code == 401


def test_rate_limit_per_key(serve, monkeypatch):
    monkeypatch.setenv("SHOPBOT_API__RATE_LIMIT_PER_MINUTE", "3")
    settings = get_settings()
    _, secret = KeyStore(settings.db_path).create("secret")
    with serve(create_app(settings, ScriptedAssistant(), ui=False)) as base:
        codes = [chat(base, secret, origin=None, stream=False).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_widget_and_demo_page_are_served(serve):
    settings = get_settings()
    _, site = KeyStore(settings.db_path).create("site", ["http://127.0.0.1:1"])
    with serve(create_app(settings, ScriptedAssistant(), ui=False, demo_site_key=site)) as base:
        js = httpx.get(f"{base}/static/widget.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "data-site-key" in js.text
        page = httpx.get(f"{base}/demo").text
        assert f'data-site-key="{site}"' in page and 'src="/static/widget.js"' in page


def test_static_files_exist():
    static = Path(__file__).resolve().parents[3] / "assistant" / "web" / "static"
    assert (static / "widget.js").is_file() and (static / "demo-host.html").is_file()


def test_chat_with_real_engine(serve, engine_settings, engine_assistant):
    """The real engine (tiny LLM, real Chroma and SQLite) behind the real HTTP server."""
    store = KeyStore(engine_settings.db_path)
    _, site = store.create("site", [SHOP])
    _, secret = store.create("secret")
    with serve(create_app(engine_settings, engine_assistant, ui=False)) as base:
        first = chat(base, site, message="waterproof hiking boots under 150")
        assert first.status_code == 200
        events = sse_events(first.text)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "products" and kinds[-1] == "done" and "token" in kinds
        assert events[0]["data"]["session"] == events[-1]["data"]["session"]
        assert events[0]["data"]["products"][0]["id"].startswith("TH-")
        streamed = "".join(e["data"]["text"] for e in events if e["type"] == "token")
        assert streamed.strip() == events[-1]["data"]["reply"].strip()
        session = events[-1]["data"]["session"]
        follow = chat(base, site, message="compare the first two", session_id=session, stream=False)
        assert follow.status_code == 200 and follow.json()["session"] == session

        # order tools see a customer only through a signed token, and only their own orders
        token = httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "C001"},
                           headers={"X-Shopbot-Key": secret}).json()["token"]
        mine = chat(base, site, message="where is my order SB-10051?", customer_token=token, stream=False).json()
        assert "SB-10051" in mine["reply"] and mine["intent"] == "order_status"
        theirs = chat(base, site, message="where is my order SB-10049?", customer_token=token, stream=False).json()
        assert "shipped" not in theirs["reply"].lower() or "SB-10049" not in theirs["reply"]
        anonymous = chat(base, site, message="where is my order SB-10051?", stream=False).json()
        assert "shipped" not in anonymous["reply"].lower()

        # search and product details through the same searcher the engine uses
        found = httpx.get(f"{base}/v1/search", params={"q": "tent", "k": 3}, headers={"X-Shopbot-Key": secret}).json()
        assert len(found["hits"]) == 3 and found["hits"][0]["product"]["title"]
        pid = found["hits"][0]["product"]["id"]
        assert httpx.get(f"{base}/v1/products/{pid}", headers={"X-Shopbot-Key": secret}).json()["id"] == pid


def test_search_is_personalised_by_a_customer_token(serve, engine_settings, engine_assistant):
    """Anonymous search ranks as before; a customer token reorders the relevant hits and says so in `why`."""
    store = KeyStore(engine_settings.db_path)
    _, site = store.create("site", [SHOP])
    _, secret = store.create("secret")
    with serve(create_app(engine_settings, engine_assistant, ui=False)) as base:
        site_headers = {"X-Shopbot-Key": site, "Origin": SHOP}
        plain = httpx.get(f"{base}/v1/search", params={"q": "tent", "k": 8}, headers=site_headers).json()["hits"]
        assert len(plain) >= 4 and not any("personalised" in w for h in plain for w in h["why"])
        # the shopper keeps looking at the plain list's last tents
        liked = [h["product"]["id"] for h in plain[-2:]]
        events = [{"type": "view", "user_id": "C001", "product_id": pid, "session_id": "s1"} for pid in liked * 3]
        assert httpx.post(f"{base}/v1/events", json={"events": events}, headers={"X-Shopbot-Key": secret}).status_code == 200
        token = httpx.post(f"{base}/v1/customer-tokens", json={"user_id": "C001"},
                           headers={"X-Shopbot-Key": secret}).json()["token"]
        mine = httpx.get(f"{base}/v1/search", params={"q": "tent", "k": 8},
                         headers={**site_headers, "X-Customer-Token": token}).json()["hits"]
        pool = httpx.get(f"{base}/v1/search", params={"q": "tent", "k": 24}, headers=site_headers).json()["hits"]
        assert {h["product"]["id"] for h in mine} <= {h["product"]["id"] for h in pool}  # reordered, nothing new
        assert [h["product"]["id"] for h in mine] != [h["product"]["id"] for h in plain]
        assert any(w.startswith("personalised: moved up") for h in mine for w in h["why"])
        again = httpx.get(f"{base}/v1/search", params={"q": "tent", "k": 8}, headers=site_headers).json()["hits"]
        assert [h["product"]["id"] for h in again] == [h["product"]["id"] for h in plain]
        refused = httpx.get(f"{base}/v1/search", params={"q": "tent", "user_id": "C001"}, headers=site_headers)
        assert refused.status_code == 403 and "secret key" in refused.json()["detail"]


# ---------------------------------------------------------------- scale-out configuration (docs/scale-out.md)


def _openai_compatible_app(model_dir: Path, calls: list):
    """A minimal OpenAI-compatible chat-completions server running the tiny model (vLLM's place in tests)."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    from assistant.conversation.llm import LocalChatModel

    model = LocalChatModel(model_path=str(model_dir), max_new_tokens=12, temperature=0.0)
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        calls.append(body["model"])
        messages = [kinds[m["role"]](content=m["content"]) for m in body["messages"]]
        text = model.invoke(messages).content
        head = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            return {**head, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}

        def chunks():
            yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text},
                                                               "finish_reason": None}]}) + "\n\n"
            yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


@pytest.mark.slow
def test_scale_out_chroma_server_openai_endpoint_and_two_workers(serve, tmp_path, tiny_llm_dir):
    """`chroma run` + an OpenAI-compatible LLM server + two `shopbot serve` (one with --workers 2) on one home:
    a session continues on whichever server a round-robin balancer picks."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    def port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    chroma_port, api_port = port(), port()
    chroma = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "chroma-server"),
                               "--port", str(chroma_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    calls: list[str] = []
    servers: list[subprocess.Popen] = []
    second_port = port()
    try:
        with serve(_openai_compatible_app(tiny_llm_dir, calls)) as llm_base:
            env = {**os.environ, "SHOPBOT_HOME": str(home), "OMP_NUM_THREADS": "1",
                   "SHOPBOT_RETRIEVAL__CHROMA__URL": f"http://127.0.0.1:{chroma_port}",
                   "SHOPBOT_LLM__PROVIDER": "openai", "SHOPBOT_LLM__BASE_URL": f"{llm_base}/v1",
                   "SHOPBOT_LLM__MODEL": "tiny-served", "SHOPBOT_API__TOKEN_SECRET": secrets.token_urlsafe(40),
                   "SHOPBOT_API__RATE_LIMIT_PER_MINUTE": "1000"}
            deadline = time.monotonic() + 60
            while True:  # chroma server up?
                try:
                    if httpx.get(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "chroma run did not start"
                    time.sleep(0.5)
            indexed = subprocess.run([sys.executable, "-m", "assistant.cli", "index"], env=env, cwd=home,
                                     capture_output=True, text=True, timeout=900)
            assert indexed.returncode == 0, indexed.stderr[-2000:]
            made = subprocess.run([sys.executable, "-m", "assistant.cli", "keys", "create", "--origin", "https://lb.test"],
                                  env=env, cwd=home, capture_output=True, text=True, timeout=120)
            key = made.stdout.split("store it now): ")[1].strip()
            # two servers on one home, as behind a load balancer: one with 2 uvicorn workers, one plain
            for args in (["--workers", "2", "--port", str(api_port)], ["--port", str(second_port)]):
                log = (tmp_path / f"serve-{args[-1]}.log").open("w")
                servers.append(subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--no-ui", *args],
                                                env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True))
                base = f"http://127.0.0.1:{args[-1]}"
                deadline = time.monotonic() + 600
                while True:  # started one after the other: the first imports events and trains recs once
                    assert servers[-1].poll() is None, (tmp_path / f"serve-{args[-1]}.log").read_text()[-3000:]
                    try:
                        if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"shopbot serve {args} did not start"
                    time.sleep(1)
            bases = [f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{second_port}"]
            session, served_by = None, set()
            questions = ["waterproof hiking boots", "compare the first two", "tents for two", "what about sleeping bags",
                         "show me headlamps", "do you have rain jackets"]
            for turn, message in enumerate(questions):  # round robin, a new connection per turn
                with httpx.Client() as client:
                    reply = client.post(f"{bases[turn % 2]}/v1/chat", json={"message": message, "stream": False,
                                                                           **({"session_id": session} if session else {})},
                                        headers={"X-Shopbot-Key": key, "Origin": "https://lb.test"}, timeout=300)
                assert reply.status_code == 200, reply.text
                assert session in (None, reply.json()["session"])
                session = reply.json()["session"]
                served_by.add(reply.headers["x-shopbot-worker"])
            assert not (home / "chroma").exists()  # vectors live only in the Chroma server
            assert calls and set(calls) == {"tiny-served"}  # replies were drafted by the OpenAI-compatible server
            assert len(served_by) >= 2, f"all turns hit one process: {served_by}"
    finally:
        for proc in (*servers, chroma):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)


def test_serve_command_creates_a_demo_key_once(tmp_path, shopbot_home):
    """`shopbot serve` on a fresh home: a demo site key for the local origin, printed, used by /demo; reused later."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    def run_once() -> str:
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--no-ui", "--lazy"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stdout.read()
                try:
                    if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
                assert time.monotonic() < deadline
            key = (shopbot_home / "demo-site-key").read_text().strip()
            assert f'data-site-key="{key}"' in httpx.get(f"{base}/demo").text
            assert KeyStore(shopbot_home / "shopbot.db").verify(key).allows_origin(base)
            assert httpx.post(f"{base}/v1/chat", json={"message": "hi"}).status_code == 401
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            output = proc.communicate(timeout=30)[0]
        return output

    first = run_once()
    key = (shopbot_home / "demo-site-key").read_text().strip()
    assert f"Created a demo site key for {base}" in first and key in first
    second = run_once()
    assert "Created a demo site key" not in second
    assert len(KeyStore(shopbot_home / "shopbot.db").list()) == 1
