"""Two `shopbot serve` processes on different ports sharing one PostgreSQL server and one `chroma run`, with a
scripted OpenAI-compatible model server (vLLM's place): what a shop behind a load balancer relies on.

A session started on one continues on the other; an order cancelled through one shows as cancelled on the
other; the same confirmation sent to both at once cancels once; an event recorded through one changes the
recommendations the other serves, at once; the rate limit counts the requests to both.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from assistant.config import DEMO_SHOP_DIR
from assistant.shop import data as shop
from assistant.shop.orders import OrderStore

RATE_LIMIT = 60  # per minute, per key and per client IP (every request here comes from 127.0.0.1)
ORIGIN = "https://lb.test"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ScriptedModel(BaseHTTPRequestHandler):
    """`/v1/chat/completions` answering every request with one short sentence (streamed or not). The engine sends
    its template whenever a draft lacks the required facts, so replies stay grounded."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.calls.append(body["model"])
        text = "Here is what I found."
        head = {"id": "cmpl-1", "created": 0, "model": body["model"]}
        if body.get("stream"):
            chunks = [{**head, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
                {**head, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
            payload = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            kind = "text/event-stream"
        else:
            payload = json.dumps({**head, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
            kind = "application/json"
        data = payload.encode()
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def _wait(url: str, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not come up: {log.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.mark.slow
def test_two_servers_share_postgres_and_chroma(postgres_url, tmp_path):
    url = postgres_url("scale")
    home = tmp_path / "home"
    home.mkdir()
    procs: list[subprocess.Popen] = []
    model = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedModel)
    model.calls = []
    threading.Thread(target=model.serve_forever, daemon=True).start()
    chroma_port, ports = _port(), [_port(), _port()]

    def start(args: list[str], name: str, env: dict) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(args, env=env, cwd=home, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    env = {**os.environ, "SHOPBOT_HOME": str(home), "OMP_NUM_THREADS": "1", "SHOPBOT_DATABASE__URL": url,
           "SHOPBOT_RETRIEVAL__CHROMA__URL": f"http://127.0.0.1:{chroma_port}",
           "SHOPBOT_LLM__PROVIDER": "openai", "SHOPBOT_LLM__BASE_URL": f"http://127.0.0.1:{model.server_address[1]}/v1",
           "SHOPBOT_LLM__MODEL": "scripted", "SHOPBOT_API__TOKEN_SECRET": secrets.token_urlsafe(40),
           "SHOPBOT_API__RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT)}
    cli = [sys.executable, "-m", "assistant.cli"]
    try:
        chroma = start([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "chroma"),
                        "--port", str(chroma_port)], "chroma", env)
        _wait(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", chroma, tmp_path / "chroma.log", 60)
        for step in (["db", "upgrade"], ["index"]):
            done = subprocess.run(cli + step, env=env, cwd=home, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, done.stderr[-2000:]

        def key(kind: str, *args: str) -> str:
            made = subprocess.run(cli + ["keys", "create", "--kind", kind, *args], env=env, cwd=home,
                                  capture_output=True, text=True, timeout=120)
            assert made.returncode == 0, made.stderr
            return made.stdout.split("store it now): ")[1].strip()

        site, secret = key("site", "--origin", ORIGIN), key("secret")
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for n, port in enumerate(ports):  # one after the other: the first imports the shop's events once
            _wait(f"{bases[n]}/v1/health", start(cli + ["serve", "--no-ui", "--port", str(port)], f"serve{n}", env),
                  tmp_path / f"serve{n}.log", 600)
        assert not (home / "shopbot.db").exists() and not (home / "events.db").exists()  # state only in PostgreSQL
        as_secret = {"X-Shopbot-Key": secret}

        order = next(o for o in shop.load_orders(DEMO_SHOP_DIR) if o.status == "placed")
        token = httpx.post(f"{bases[0]}/v1/customer-tokens", json={"user_id": order.customer_id}, headers=as_secret,
                           timeout=30).json()["token"]
        as_customer = {"X-Shopbot-Key": site, "Origin": ORIGIN, "X-Customer-Token": token}

        def chat(n: int, message: str, session: str | None) -> dict:
            reply = httpx.post(f"{bases[n]}/v1/chat", json={"message": message, "stream": False,
                                                            **({"session_id": session} if session else {})},
                               headers=as_customer, timeout=300)
            assert reply.status_code == 200, reply.text
            return reply.json()

        # a session started on one server continues on the other
        first = chat(0, "waterproof hiking boots", None)
        second = chat(1, "compare the first two", first["session"])
        assert second["session"] == first["session"]

        # the same confirmation sent to both at once cancels once
        asked = chat(0, f"please cancel order {order.id}", first["session"])
        assert asked["session"] == first["session"]
        replies: list[dict] = [{}, {}]
        barrier = threading.Barrier(2)

        def confirm(n: int) -> None:
            barrier.wait()
            replies[n] = chat(n, f"yes, cancel {order.id}", first["session"])

        threads = [threading.Thread(target=confirm, args=(n,)) for n in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done = [a for r in replies for a in r["actions"] if a.get("status") == "done"]
        assert len(done) == 1, replies
        stored = OrderStore(url).get(order.id, order.customer_id)
        assert stored.status == "cancelled" and [h["status"] for h in stored.history].count("cancelled") == 1
        # cancelled through one, shown as cancelled by the other (each asks the other server than the one that won)
        for n in (0, 1):
            status = chat(n, f"where is my order {order.id}?", None)
            assert "cancelled" in status["reply"].lower(), status

        # an event recorded through one server changes the recommendations the other serves, at once
        def recs(n: int) -> list[str]:
            got = httpx.get(f"{bases[n]}/v1/recommendations", params={"user_id": "NEW-SHOPPER", "k": 5},
                            headers=as_secret, timeout=60)
            assert got.status_code == 200, got.text
            return [i["product"]["id"] for i in got.json()["items"]]

        before = recs(1)
        catalog = [json.loads(line)["id"] for line in (DEMO_SHOP_DIR / "catalog.jsonl").read_text().splitlines() if line.strip()]
        bought = [p for p in catalog if p not in before][-3:]
        events = [{"type": "purchase", "user_id": "NEW-SHOPPER", "product_id": p, "value": 1} for p in bought]
        assert httpx.post(f"{bases[0]}/v1/events", json={"events": events}, headers=as_secret, timeout=60).json() == {"accepted": 3}
        recorded = time.monotonic()
        after = recs(1)
        assert time.monotonic() - recorded < 1.0 and after != before

        # the rate limit counts the requests to both servers: one budget, not one per server
        codes = [httpx.get(f"{bases[n % 2]}/v1/search", params={"q": "tent"}, headers=as_secret, timeout=60).status_code
                 for n in range(2 * RATE_LIMIT)]
        assert codes.count(200) <= RATE_LIMIT and codes.count(429) >= RATE_LIMIT
        assert {codes[i] for i in range(0, len(codes), 2)} >= {429} and {codes[i] for i in range(1, len(codes), 2)} >= {429}
        assert model.calls and set(model.calls) == {"scripted"}  # replies were drafted through the model server
    finally:
        model.shutdown()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
