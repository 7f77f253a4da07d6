"""Scale-out benchmark (issue 18): `shopbot serve --workers 4` vs `--workers 1` on PostgreSQL + `chroma run` with a
scripted OpenAI-compatible model, S concurrent sessions x T turns each, then the 4-worker run again with one
worker killed (SIGKILL) in the middle of the load.

Runs only with `pytest --benchmarks`. Counts errors, cross-session leaks (a session's marker in another's reply,
a session id changing) and throughput in the same run; in the kill run every turn also posts one behaviour event
through the API, and sessions of customers with placed orders cancel them with a confirmation: afterwards every
event, every turn's messages and every confirmed cancel the API acknowledged must be in the database (lost = 0).
Requests in flight on the killed worker fail and are counted as such, apart from the losses.
Knobs: SHOPBOT_BENCH_SESSIONS (default 200), SHOPBOT_BENCH_TURNS (5). Writes test-artifacts/bench/scale_out.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-artifacts" / "bench" / "scale_out.json"
SESSIONS = int(os.environ.get("SHOPBOT_BENCH_SESSIONS", "200"))
TURNS = int(os.environ.get("SHOPBOT_BENCH_TURNS", "5"))
QUESTIONS = ["do you have waterproof hiking boots under 150", "what is your return policy", "show me a lightweight tent",
             "how long does standard delivery take", "I need a warm sleeping bag", "compare the first two"]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ScriptedModel(BaseHTTPRequestHandler):
    """Second copy of tests/storage/test_scale_out.py::_ScriptedModel (test folders cannot import each other)."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        head = {"id": "cmpl-1", "created": 0, "model": body["model"]}
        text = "Here is what I found."
        if body.get("stream"):
            chunks = [{**head, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
                {**head, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
            data, kind = ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode(), "text/event-stream"
        else:
            data, kind = json.dumps({**head, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}).encode(), "application/json"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def _postgres(folder: Path) -> tuple[str, list[str], Path]:
    """Second copy of tests/storage/conftest.py::postgres_url's start: (URL, run-as prefix, pg_ctl)."""
    bin_dir = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)[0].parent
    as_user = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _port()
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "shopbot",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300", "start"],
                   check=True, capture_output=True)
    return f"postgresql+psycopg://shopbot@127.0.0.1:{port}/postgres", as_user, bin_dir / "pg_ctl"


def _wait(url: str, proc: subprocess.Popen, seconds: float = 900) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, f"{url}: process exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.5)


async def _session(client, base, headers, i, results, orders, record_events):
    marker = f"ZQ{i:04d}X"
    session, rng = None, random.Random(i)
    customer = orders[i] if i < len(orders) else None  # (order id, customer id, token) for the cancel sessions
    for turn in range(TURNS):
        message = f"{rng.choice(QUESTIONS)} (ref {marker})"
        h = dict(headers)
        if customer is not None:
            h["X-Customer-Token"] = customer[2]
            message = {0: f"please cancel order {customer[0]}", 1: f"yes, cancel {customer[0]}"}.get(turn, message)
        try:
            response = await client.post(f"{base}/v1/chat", headers=h,
                                         json={"message": message, "stream": False, **({"session_id": session} if session else {})})
        except Exception as exc:  # connection reset by the killed worker, timeouts
            results["failed"].append(f"session {i} turn {turn}: {type(exc).__name__}")
            continue
        if response.status_code != 200:
            results["failed"].append(f"session {i} turn {turn}: HTTP {response.status_code} {response.text[:200]}")
            continue
        reply = response.json()
        if session is not None and reply["session"] != session:
            results["leaks"].append(f"session {i} changed id at turn {turn}")
        session = reply["session"]
        text = json.dumps(reply)
        if any(f"ZQ{j:04d}X" in text for j in range(SESSIONS) if j != i):
            results["leaks"].append(f"session {i} turn {turn} saw another session's marker")
        results["turns"].append(session)
        if customer is not None and any(a.get("status") == "done" for a in reply["actions"]):
            results["confirmed"].append(customer[0])
        if record_events:
            event = {"type": "view", "user_id": f"bench-{i}", "product_id": results["products"][(i + turn) % len(results["products"])],
                     "session_id": session}
            try:
                got = await client.post(f"{base}/v1/events", headers={"X-Shopbot-Key": results["secret"]}, json={"events": [event]})
                if got.status_code == 200:
                    results["events"] += 1
            except Exception:
                pass


async def _drive(base, headers, orders, record_events, secret, products, on_half=None):
    import httpx

    results = {"failed": [], "leaks": [], "turns": [], "confirmed": [], "events": 0, "secret": secret, "products": products}
    limits = httpx.Limits(max_connections=SESSIONS + 10, max_keepalive_connections=SESSIONS + 10)
    async with httpx.AsyncClient(timeout=httpx.Timeout(900.0), limits=limits) as client:
        started = time.perf_counter()
        tasks = [asyncio.create_task(_session(client, base, headers, i, results, orders, record_events)) for i in range(SESSIONS)]
        if on_half is not None:
            while len(results["turns"]) < SESSIONS * TURNS // 2 and not all(t.done() for t in tasks):
                await asyncio.sleep(0.2)
            on_half()
        await asyncio.gather(*tasks)
        results["wall_s"] = round(time.perf_counter() - started, 2)
    return results


@pytest.mark.slow
def test_bench_scale_out(tmp_path):
    import httpx
    from sqlalchemy import create_engine, text

    from assistant.config import DEMO_SHOP_DIR
    from assistant.shop import data as shop
    from assistant.shop.orders import OrderStore

    pg_dir = Path(tempfile.mkdtemp(prefix="shopbot-bench-pg-"))
    url, as_user, pg_ctl = _postgres(pg_dir)
    model = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedModel)
    threading.Thread(target=model.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    home.mkdir()
    chroma_port = _port()
    env = {**os.environ, "SHOPBOT_HOME": str(home), "OMP_NUM_THREADS": "1", "SHOPBOT_DATABASE__URL": url,
           "SHOPBOT_RETRIEVAL__CHROMA__URL": f"http://127.0.0.1:{chroma_port}", "SHOPBOT_LLM__PROVIDER": "openai",
           "SHOPBOT_LLM__BASE_URL": f"http://127.0.0.1:{model.server_address[1]}/v1", "SHOPBOT_LLM__MODEL": "scripted",
           "SHOPBOT_API__TOKEN_SECRET": secrets.token_urlsafe(40), "SHOPBOT_API__RATE_LIMIT_PER_MINUTE": "1000000"}
    cli = [sys.executable, "-m", "assistant.cli"]
    procs: list[subprocess.Popen] = []
    summary: dict = {"sessions": SESSIONS, "turns_per_session": TURNS, "cpu_cores": os.cpu_count()}
    try:
        procs.append(subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "chroma"),
                                       "--port", str(chroma_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
        _wait(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", procs[-1])
        for step in (["db", "upgrade"], ["index"]):
            subprocess.run(cli + step, env=env, cwd=home, check=True, capture_output=True, timeout=1800)

        def key(*args: str) -> str:
            out = subprocess.run(cli + ["keys", "create", *args], env=env, cwd=home, check=True, capture_output=True, text=True)
            return out.stdout.split("store it now): ")[1].strip()

        site, secret = key("--origin", "https://lb.test"), key("--kind", "secret")
        headers = {"X-Shopbot-Key": site, "Origin": "https://lb.test"}
        products = [json.loads(line)["id"] for line in (DEMO_SHOP_DIR / "catalog.jsonl").read_text().splitlines() if line.strip()]
        placed = [o for o in shop.load_orders(DEMO_SHOP_DIR) if o.status == "placed"]

        def run(workers: int, kill: bool) -> dict:
            port = _port()
            server = subprocess.Popen(cli + ["serve", "--no-ui", "--workers", str(workers), "--port", str(port)], env=env,
                                      cwd=home, stdout=(tmp_path / f"serve-{workers}-{kill}.log").open("w"),
                                      stderr=subprocess.STDOUT, start_new_session=True)
            procs.append(server)
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/v1/health", server)
            for _ in range(3 * workers):  # warm every worker (each builds its assistant on its first turn)
                httpx.post(f"{base}/v1/chat", json={"message": "hello", "stream": False}, headers=headers, timeout=900)
            orders = []
            if kill:
                for o in placed:
                    token = httpx.post(f"{base}/v1/customer-tokens", json={"user_id": o.customer_id},
                                       headers={"X-Shopbot-Key": secret}, timeout=60).json()["token"]
                    orders.append((o.id, o.customer_id, token))
            killed: dict[str, int] = {}

            def kill_one() -> None:
                children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
                workers_ = [int(c) for c in children if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()]

                def cpu(pid: int) -> int:  # utime + stime ticks: the busiest worker is the one holding requests
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    return int(fields[11]) + int(fields[12])

                victim = max(workers_, key=cpu)
                os.kill(victim, signal.SIGKILL)
                killed.update(pid=victim, workers=len(workers_))

            results = asyncio.run(_drive(base, headers, orders, kill, secret, products, kill_one if kill else None))
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=120)
            out = {"workers": workers, "turns_ok": len(results["turns"]), "failed": len(results["failed"]),
                   "failed_samples": results["failed"][:3], "leaks": len(results["leaks"]), "wall_s": results["wall_s"],
                   "throughput_turns_per_s": round(len(results["turns"]) / results["wall_s"], 3)}
            if kill:
                engine = create_engine(url)
                with engine.connect() as db:
                    stored_events = db.execute(text("SELECT COUNT(*) FROM events WHERE user_id LIKE 'bench-%'")).scalar_one()
                    replies = dict(db.execute(text(
                        "SELECT session_id, COUNT(*) FROM messages WHERE role = 'assistant' GROUP BY session_id")).fetchall())
                engine.dispose()
                acknowledged = Counter(results["turns"])  # session -> turns the API answered with 200
                cancelled = {o.id for o in placed if OrderStore(url).get(o.id, o.customer_id).status == "cancelled"}
                out.update({
                    "killed_pid": killed.get("pid"), "workers_seen": killed.get("workers"),
                    "events_acknowledged": results["events"], "events_stored": stored_events,
                    "events_lost": max(0, results["events"] - stored_events),
                    "confirmations_acknowledged": len(set(results["confirmed"])),
                    "confirmations_lost": len(set(results["confirmed"]) - cancelled),
                    "turns_acknowledged": len(results["turns"]),
                    "turns_lost": sum(max(0, n - replies.get(sid, 0)) for sid, n in acknowledged.items()),
                })
            return out

        one = run(1, False)
        four = run(4, False)
        killed = run(4, True)
        summary.update({"one_worker": one, "four_workers": four, "four_workers_one_killed": killed,
                        "speedup_4_vs_1": round(four["throughput_turns_per_s"] / one["throughput_turns_per_s"], 2),
                        "load_average_1m": round(os.getloadavg()[0], 2)})
        print("\nscale_out: " + json.dumps(summary))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(summary, indent=2) + "\n")
        for r in (one, four):
            assert r["failed"] == 0 and r["leaks"] == 0, r
        assert killed["leaks"] == 0 and killed["events_lost"] == 0 and killed["confirmations_lost"] == 0, killed
        assert killed["turns_lost"] == 0, killed
    finally:
        model.shutdown()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run([*as_user, str(pg_ctl), "-D", str(pg_dir / "data"), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(pg_dir, ignore_errors=True)
