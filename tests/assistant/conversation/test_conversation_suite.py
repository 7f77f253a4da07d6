"""The scripted conversation suite with the bundled SmolLM2 (slow): >= 50 shopping and service turns.

Targets: zero replies with an unsupported product/price/stock/order claim, and the right tool in >= 95%
of turns. Claims are verified independently of the engine's own grounding checker, by the conversation
benchmark's verifier: every price, order number, order state, stock statement and catalog product name in a
reply is looked up in the catalog, the order store and the turn's citations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

SUITE = Path(__file__).parent.parent / "data" / "conversation_suite.json"
PROMPTS = Path(__file__).resolve().parents[3] / "prompts"
TEMPLATE_TEXT = [p.read_text() for p in PROMPTS.glob("*.md")] + [
    (Path(__file__).resolve().parents[3] / "assistant" / "shop" / "demo_shop" / "profile.toml").read_text()]


def load_suite(records) -> list[tuple[str | None, list[dict]]]:
    """Conversations with their customer and order placeholders resolved against the demo orders.
    (Copy: tests/benchmarks/test_bench_assistant.py reads the same file the same way.)"""
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
        turns = [{**t, "say": t["say"].format(**values)} for t in conv["turns"]]
        out.append((customer, turns))
    return out


def unsupported_claims(reply: str, done: dict, message: str, catalog: dict, orders, customer: str | None,
                       events: list | None = None) -> list[str]:
    """Claims in `reply` that the catalog, the customer's orders or the citations do not back: the conversation
    benchmark's independent verifier (`assistant.conversation.evaluate`), which never asks the engine's own
    grounding checker."""
    from assistant.conversation.evaluate import unsupported_claims as verify

    plain = [{"type": e.type, "data": e.data} for e in events or []]
    return verify(reply, done, message, catalog, orders, customer, plain, "\n".join(TEMPLATE_TEXT))


@pytest.mark.slow
def test_conversation_suite_with_bundled_model(make_assistant, bundled_llm_dir, capsys):
    from assistant.config import DEMO_SHOP_DIR
    from assistant.conversation.llm import LocalChatModel
    from assistant.shop import data as shop

    records = shop.load_orders(DEMO_SHOP_DIR)
    model = LocalChatModel(model_path=str(bundled_llm_dir), max_new_tokens=60, temperature=0.0)
    assistant = make_assistant(model)
    catalog = dict(assistant.searcher.store.products)
    turns = right = 0
    bad, wrong, sources, timings = [], [], {}, []
    for customer, script in load_suite(records):
        session = None
        for step in script:
            t0 = time.perf_counter()
            events, first_token = [], None
            for event in assistant.chat(session, step["say"], customer):
                if event.type == "token" and first_token is None:
                    first_token = time.perf_counter() - t0
                events.append(event)
            timings.append((first_token or 0.0, time.perf_counter() - t0))
            done = events[-1].data
            session = done["session"]
            turns += 1
            right += done["tool"] == step["tool"]
            if done["tool"] != step["tool"]:
                wrong.append((step["say"], step["tool"], done["tool"], done["intent"]))
            sources[done["answer_source"]] = sources.get(done["answer_source"], 0) + 1
            problems = unsupported_claims(done["reply"], done, step["say"], catalog, assistant.orders, customer, events)
            if problems:
                bad.append((step["say"], done["reply"], problems))
    with capsys.disabled():
        print(f"\nconversation suite: {turns} turns, right tool {right}/{turns} = {right / turns:.3f}, "
              f"replies with unsupported claims: {len(bad)}, answer sources: {sources}")
        for name, values in (("first token", [t for t, _ in timings]), ("full reply", [f for _, f in timings])):
            ordered = sorted(values)
            print(f"  {name}: p50 {ordered[len(ordered) // 2]:.2f} s, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.2f} s")
        for w in wrong:
            print("  wrong tool:", w)
        for b in bad:
            print("  unsupported:", b)
    assert turns >= 50
    assert not bad
    assert right / turns >= 0.95
