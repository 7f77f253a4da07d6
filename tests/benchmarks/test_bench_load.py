"""Load benchmark: >= 50 concurrent chat sessions x 5 turns against `shopbot serve` on loopback.

Runs only with `pytest --benchmarks` (`make bench`). Starts the real server as a subprocess (real model,
real Chroma and SQLite under a temporary home), drives it over HTTP with streaming SSE like the widget
does, and checks: zero errors, every session keeps its own id, and no reply or event of one session ever
carries another session's marker. Prints p50/p95 latency (time to first event, time to the `done`
event) under that load, the same for one session alone (the unloaded latency), how each turn was answered
(`answer_sources`: drafted and passed, fallback, "busy" = every draft slot taken, template), and writes
`test-artifacts/bench/load.json`. No wall-clock assertions.

With the tiny random model the figures isolate the server's own overhead (routing, auth, SQLite,
retrieval, streaming); with the bundled SmolLM2 they are what a shopper would feel on this machine.
Knobs: SHOPBOT_BENCH_SESSIONS (default 50), SHOPBOT_BENCH_TURNS (5), SHOPBOT_BENCH_MODELS ("tiny,bundled").
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-artifacts" / "bench" / "load.json"
SESSIONS = int(os.environ.get("SHOPBOT_BENCH_SESSIONS", "50"))
TURNS = int(os.environ.get("SHOPBOT_BENCH_TURNS", "5"))
MODELS = os.environ.get("SHOPBOT_BENCH_MODELS", "tiny,bundled").split(",")

QUESTIONS = [
    "do you have waterproof hiking boots under 150",
    "what is your return policy",
    "show me a lightweight tent for two",
    "how long does standard delivery take",
    "I need a warm sleeping bag",
    "which headlamp is the brightest",
    "compare the first two",
    "can I pay with paypal",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else float("nan")


def _shopbot(*args: str, env: dict, timeout: float = 1800) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True, text=True,
                            timeout=timeout, cwd=env["SHOPBOT_HOME"])
    assert result.returncode == 0, f"shopbot {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


async def _session(client, base: str, key: str, origin: str, index: int, results: dict) -> None:
    import httpx

    marker = f"ZQ{index:03d}X"
    session_id = None
    seen_sessions: set[str] = set()
    rng = random.Random(index)
    for turn in range(TURNS):
        message = f"{rng.choice(QUESTIONS)} (ref {marker})"
        body = {"message": message, **({"session_id": session_id} if session_id else {})}
        started = time.perf_counter()
        first = None
        events: list[tuple[str, str]] = []
        try:
            async with client.stream("POST", f"{base}/v1/chat", json=body,
                                     headers={"X-Shopbot-Key": key, "Origin": origin}) as response:
                if response.status_code != 200:
                    detail = (await response.aread()).decode()[:300]
                    results["errors"].append(f"session {index} turn {turn}: HTTP {response.status_code} {detail}")
                    return
                buffer = ""
                async for chunk in response.aiter_text():
                    buffer += chunk
                    while "\n\n" in buffer:
                        frame, buffer = buffer.split("\n\n", 1)
                        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
                        if first is None:
                            first = time.perf_counter() - started
                        events.append((lines.get("event", ""), lines.get("data", "")))
        except httpx.HTTPError as exc:
            results["errors"].append(f"session {index} turn {turn}: {type(exc).__name__} {exc}")
            return
        total = time.perf_counter() - started
        kinds = [k for k, _ in events]
        if "done" not in kinds or "error" in kinds:
            results["errors"].append(f"session {index} turn {turn}: events {kinds[-5:]}")
            return
        done = json.loads(events[kinds.index("done")][1])
        seen_sessions.add(done["session"])
        session_id = done["session"]
        stream_text = " ".join(data for _, data in events)
        for other in range(SESSIONS):
            if other != index and f"ZQ{other:03d}X" in stream_text:
                results["leaks"].append(f"session {index} turn {turn} saw marker of session {other}")
        results["first_event_s"].append(first or total)
        results["done_s"].append(total)
        results["turns"] += 1
        results["sources"][done.get("answer_source", "?")] += 1
    if len(seen_sessions) != 1:
        results["errors"].append(f"session {index} changed id: {seen_sessions}")
    results["session_ids"].append(session_id)


def _new_results() -> dict:
    return {"errors": [], "leaks": [], "first_event_s": [], "done_s": [], "turns": 0, "session_ids": [],
            "sources": collections.Counter()}


async def _drive(base: str, key: str, origin: str) -> tuple[dict, dict]:
    """(one session alone: the unloaded latency, then all sessions at once)."""
    import httpx

    alone = _new_results()
    results = _new_results()
    limits = httpx.Limits(max_connections=SESSIONS + 10, max_keepalive_connections=SESSIONS + 10)
    async with httpx.AsyncClient(timeout=httpx.Timeout(900.0), limits=limits) as client:
        await _session(client, base, key, origin, SESSIONS, alone)  # marker outside the concurrent range
        started = time.perf_counter()
        await asyncio.gather(*(_session(client, base, key, origin, i, results) for i in range(SESSIONS)))
        results["wall_s"] = round(time.perf_counter() - started, 2)
    results["errors"] += alone["errors"]
    if len(set(results["session_ids"])) != len(results["session_ids"]):
        results["errors"].append("two concurrent conversations got the same session id")
    return alone, results


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_bench_load(model, tmp_path, request):
    env = {**os.environ, "SHOPBOT_HOME": str(tmp_path / "home"), "SHOPBOT_API__RATE_LIMIT_PER_MINUTE": "1000000",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "SHOPBOT_LOG_LEVEL": "WARNING"}
    (tmp_path / "home").mkdir()
    if model == "tiny":
        env["SHOPBOT_LLM__MODEL"] = str(request.getfixturevalue("tiny_llm_dir"))
    _shopbot("models", "prepare", env=env)
    _shopbot("index", env=env)
    port = _free_port()
    base, origin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--no-ui"],
                              env=env, cwd=env["SHOPBOT_HOME"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        import httpx

        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "shopbot serve did not come up in 10 minutes"
            time.sleep(0.5)
        key = (tmp_path / "home" / "demo-site-key").read_text().strip()
        alone, results = asyncio.run(_drive(base, key, origin))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()

    summary = {
        "model": model, "sessions": SESSIONS, "turns_per_session": TURNS, "turns_completed": results["turns"],
        "errors": len(results["errors"]), "error_samples": results["errors"][:5], "leaks": len(results["leaks"]),
        "wall_s": results["wall_s"], "throughput_turns_per_s": round(results["turns"] / results["wall_s"], 3),
        "first_event_p50_s": _pct(results["first_event_s"], 0.5), "first_event_p95_s": _pct(results["first_event_s"], 0.95),
        "done_p50_s": _pct(results["done_s"], 0.5), "done_p95_s": _pct(results["done_s"], 0.95),
        "done_mean_s": round(statistics.fmean(results["done_s"]), 3) if results["done_s"] else None,
        "alone_first_event_p50_s": _pct(alone["first_event_s"], 0.5), "alone_done_p50_s": _pct(alone["done_s"], 0.5),
        "alone_done_max_s": _pct(alone["done_s"], 1.0),
        "answer_sources": dict(results["sources"]),  # "busy": answered from the template, every draft slot taken
        "cpu_cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2), "run_id": secrets.token_hex(4), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"\nload[{model}]: " + json.dumps(summary))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(OUT.read_text()) if OUT.is_file() else {}
    previous[model] = summary
    OUT.write_text(json.dumps(previous, indent=2) + "\n")
    assert summary["errors"] == 0, results["errors"][:5]
    assert summary["leaks"] == 0, results["leaks"][:5]
    assert summary["turns_completed"] == SESSIONS * TURNS
