"""Assistant latency with the bundled SmolLM2-135M: time to first token and full reply, p50/p95, over the
scripted conversation suite (tests/assistant/data/conversation_suite.json), on this machine.

The real stack: MiniLM embeddings, Chroma + bm25 product and policy indexes, the intent router, SQLite.
Replies are checked before streaming, so time to first token includes the draft and its check.
Prints the figures and writes `test-artifacts/bench/assistant.json`; no wall-clock assertions.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests" / "assistant" / "data" / "conversation_suite.json"
OUT = REPO / "test-artifacts" / "bench" / "assistant.json"


def load_suite(records) -> list[tuple[str | None, list[dict]]]:
    """(Copy: tests/assistant/test_conversation_suite.py.) Conversations with placeholders resolved."""
    out = []
    for conv in json.loads(SUITE.read_text())["conversations"]:
        spec, values = conv["customer"], {"anyorder": records[0].id}
        customer = None
        if spec:
            _, status, *n = spec.split(":")
            order = [r for r in records if r.status == status][int(n[0]) if n else 0]
            customer = order.customer_id
            values["order"] = order.id
            values["foreign"] = next(r.id for r in records if r.customer_id != customer)
        out.append((customer, [{**t, "say": t["say"].format(**values)} for t in conv["turns"]]))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(pct(values, 0.5) * 1000), "p95_ms": round(pct(values, 0.95) * 1000),
            "mean_ms": round(statistics.fmean(values) * 1000)} if values else {"n": 0}


@pytest.mark.slow
def test_bench_assistant_latency(bundled_llm_dir):
    from assistant.config import DEMO_SHOP_DIR, get_settings
    from assistant.conversation.llm import LocalChatModel
    from assistant.shop import data as shop
    from assistant.wiring import build_assistant

    settings = get_settings()
    model = LocalChatModel(model_path=str(bundled_llm_dir), max_new_tokens=settings.llm.max_new_tokens)
    started = time.perf_counter()
    assistant = build_assistant(settings, model)  # indexes the shop and fits the router on this fresh home
    setup_s = time.perf_counter() - started
    list(assistant.chat(None, "hello"))  # load the chat model outside the measured turns

    rows = []
    for customer, script in load_suite(shop.load_orders(DEMO_SHOP_DIR)):
        session = None
        for step in script:
            t0 = time.perf_counter()
            ttft, done = None, None
            for event in assistant.chat(session, step["say"], customer):
                if event.type == "token" and ttft is None:
                    ttft = time.perf_counter() - t0
                if event.type == "done":
                    done = event.data
            total = time.perf_counter() - t0
            assert done is not None, f"no 'done' event for {step['say']!r}"  # else the last turn's figures are reused
            session = done["session"]
            rows.append({"say": step["say"], "tool": done["tool"], "source": done["answer_source"],
                         "ttft": ttft if ttft is not None else total, "total": total})

    assert rows, "the conversation suite has no turns"
    drafted = [r for r in rows if r["source"] != "template"]  # turns where the chat model wrote a draft
    result = {
        "model": "SmolLM2-135M-Instruct (bundled)",
        "turns": len(rows),
        "setup_s": round(setup_s, 1),
        "all_turns": {"ttft": summary([r["ttft"] for r in rows]), "full_reply": summary([r["total"] for r in rows])},
        "model_drafted_turns": {"ttft": summary([r["ttft"] for r in drafted]),
                                "full_reply": summary([r["total"] for r in drafted])},
        "answer_sources": {s: sum(r["source"] == s for r in rows) for s in {r["source"] for r in rows}},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({**result, "rows": rows}, indent=2))
    print("\nassistant latency:", json.dumps(result, indent=2))
