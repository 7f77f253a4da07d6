"""Training records for the shop's chat adapter, replayed through the engine in the exact serving format.

`shopbot finetune build-data` (and `finetune train` without `--data`) calls `build_records`: each historical
dialog (the shop's `dialogs.jsonl`, Bitext, chat JSONL, ShareGPT, read by `finetune.data` in the CLI and handed
here as plain message lists) is replayed turn by turn through the real engine with the chat model off, against
the shop's data in a throwaway data home:

1. the customer's message is planned like a live one (`Assistant._plan`: guardrails, dialogue state, tools);
   a turn the engine would not draft (a template-only step, several requests) gives no record, but still
   moves the dialogue on;
2. the prompt is `prompting.render_turn` of that step: the system prompt, the `<data>` block the tools built,
   the task line and the earlier turns, exactly what `Assistant._draft` sends;
3. the agent's reply becomes the target, its `{{Placeholders}}` filled from the tool results (`{{Order
   Number}}` is the order the tool found) and the shop profile; then `grounding.check` decides, as it does
   for a served draft: a reply stating a fact the data does not support is dropped (or, with `repair`, kept
   without the unsupported sentences when the required facts remain).
   Where the agent's reply cannot be used, the step's own templated answer (built from the data alone) can
   stand in (`template_targets`), so every drafted kind of turn is covered.

Feedback adds records: a reply rated up is a target (checked the same way), a reply rated down a `rejected`
answer next to the grounded template as `chosen` (for the optional DPO step), a human agent's reply on a
hand-off ticket a target.

Records are JSON lines that `finetune.data.load_records` reads: `prompt` and `completion` (TRL
conversational prompt-completion), optionally `chosen`/`rejected`, plus `split`, `origin`, `intent`, `source`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.conversation import grounding
from assistant.conversation.guardrails import leaks_prompt
from assistant.conversation.prompting import render_turn
from assistant.conversation.state import DialogueState
from prompts.loader import fill_placeholders

logger = logging.getLogger(__name__)

_GLUE = {"your", "with", "from", "that", "this", "will", "have", "they", "them", "what", "when", "which", "there", "their",
         "about", "into", "only", "also", "more", "most", "some", "other", "than", "then", "please", "policy", "order"}
_ORDER_ID = re.compile(r"\bSB-\d{4,6}\b")
_ORDER_PLACEHOLDER = re.compile(r"\{\{\s*order (?:number|id)(?: anonymized)?\s*\}\}", re.I)


@dataclass
class ReplayDialog:
    """A historical conversation to replay: alternating user/assistant messages (a system turn is ignored)."""

    messages: list[dict[str, str]]
    customer_id: str | None = None  # the signed-in customer, when the dialog is about their orders
    intent: str | None = None
    source: str = ""  # "file:line", for the data card
    origin: str = "dialog"  # dialog | feedback_up | feedback_down | ticket


@dataclass
class ReplayOptions:
    """How records are made; the `data:` section of the training config carries the same names."""

    template_targets: bool = True  # use the step's templated answer where the agent's reply cannot be used
    repair: bool = True  # keep an agent reply without its unsupported sentences when the required facts remain
    val_fraction: float = 0.05
    test_fraction: float = 0.1
    seed: int = 42


@dataclass
class ReplayResult:
    records: list[dict]
    stats: dict[str, object] = field(default_factory=dict)


def accepts(assistant, step, message: str, text: str) -> tuple[str | None, str]:
    """(the reply as served, or None, and why): `text` judged as a draft of `step`, the way `Assistant._answer`
    judges one (copy: engine.Assistant._answer; the same checker, evidence and overlap rule)."""
    ev = step.evidence
    ev.user_message = message
    if step.data not in ev.texts:
        ev.texts.append(step.data)
    ev.catalog_titles = assistant.catalog_titles
    ev.catalog_brands = assistant.catalog_brands
    verdict = grounding.check(text, ev, step.required, system_prompt=assistant.system_prompt)
    if not verdict.ok:
        return None, "unsupported" if verdict.dropped else "misses required facts"
    if step.overlap_with:
        source_words = set(re.findall(r"[a-z]{4,}", step.overlap_with.lower())) - _GLUE
        if len(source_words & set(re.findall(r"[a-z]{4,}", verdict.text.lower()))) < 3:
            return None, "does not say what the source says"
    if leaks_prompt(verdict.text, assistant.system_prompt):
        return None, "leaks the prompt"
    return verdict.text.strip(), "repaired" if verdict.dropped else "kept"


def split_of(key: str, options: ReplayOptions) -> str:
    """train/val/test by a stable hash of the dialog's key: the same dialog always lands in the same split."""
    h = int(hashlib.sha256(f"{options.seed}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < options.test_fraction:
        return "test"
    if h < options.test_fraction + options.val_fraction:
        return "val"
    return "train"


def _fill_target(text: str, step, message: str, placeholders: dict[str, str]) -> tuple[str, list[str]]:
    """The agent's reply with `{{Order Number}}` as the order the tool found and the profile's values."""
    found = [o.id for o in step.evidence.orders] or _ORDER_ID.findall(message)
    if found:
        text = _ORDER_PLACEHOLDER.sub(found[0], text)
    return fill_placeholders(text, placeholders)


def _template_target(assistant, step, message: str, max_chars: int = 220) -> str | None:
    """The shortest opening of the step's templated answer that passes as a draft: a draft is capped at a few
    dozen tokens (`Assistant.draft_tokens`), and for a list answer only its lead sentence is kept (the data lines
    follow it), so the target is what a draft can say in full."""
    template = fill_placeholders(step.template.strip(), assistant.placeholders)[0]
    if step.listing:  # the lead and the first data line as one sentence: the served reply keeps only that one
        listing = fill_placeholders(step.listing.strip(), assistant.placeholders)[0]
        lead = template.replace(listing, "").strip().rstrip(":")
        first = re.sub(r"^\s*\d+\.\s*", "", listing.splitlines()[0]).strip()
        # (the lead may quote the customer's budget, which the checker does not take next to a product)
        for text in ([f"{lead}: {first}."] if lead else []) + [f"{first}."]:
            if len(grounding.split_sentences(text)) == 1:
                reply, why = accepts(assistant, step, message, text)
                if why == "kept":
                    return reply
        return None
    sentences = grounding.split_sentences(template)
    for k in range(1, len(sentences) + 1):
        text = " ".join(sentences[:k])
        if len(text) > max_chars and k > 1:
            break
        reply, why = accepts(assistant, step, message, text)
        if reply is not None and why == "kept":
            return reply
    return None


def _customer_orders(assistant, customers: list[str]) -> dict[str, list[str]]:
    return {c: [o.id for o in assistant.orders.for_customer(c)] for c in customers}


def replay_dialog(assistant, dialog: ReplayDialog, options: ReplayOptions, counts: Counter,
                  order_of: tuple[str, str] | None = None) -> list[dict]:
    """The records of one dialog (see the module docstring). `order_of`: (customer, order id) standing in for a
    dialog whose customer and order are placeholders (Bitext's `{{Order Number}}`)."""
    from assistant.conversation.engine import _history  # the engine's own rendering of earlier turns

    user_id = dialog.customer_id or (order_of[0] if order_of else None)
    session = assistant.sessions.open(None, user_id)
    state = DialogueState.load(session.state)
    split = split_of(dialog.source or json.dumps(dialog.messages)[:400], options)
    records = []
    turns = [m for m in dialog.messages if m["role"] in ("user", "assistant")]
    for i in range(0, len(turns) - 1, 2):
        user, agent = turns[i], turns[i + 1]
        if user["role"] != "user" or agent["role"] != "assistant":
            counts["not alternating"] += 1
            break
        message = user["content"]
        if order_of:
            message = _ORDER_PLACEHOLDER.sub(order_of[1], message)
        message, unknown = fill_placeholders(message, assistant.placeholders)
        if unknown:
            counts["customer placeholder without a value"] += 1
            break
        summary, recent = assistant.sessions.context(session.id)
        steps = assistant._plan(session, state, message, user_id)
        template = "\n\n".join(fill_placeholders(s.template.strip(), assistant.placeholders)[0] for s in steps)
        said = template
        if len(steps) == 1 and steps[0].task:
            step = steps[0]
            prompt = render_turn(assistant.system_prompt, message=message, data=step.data, task=step.task,
                                 history=_history(summary, recent, step))
            target, unknown = _fill_target(agent["content"].strip(), step, message, assistant.placeholders)
            origin, why = dialog.origin, ""
            if unknown:
                reply, why = None, f"placeholder {unknown[0]} has no value"
            else:
                reply, why = accepts(assistant, step, message, target)
                if why == "repaired" and not options.repair:
                    reply, why = None, "unsupported"
            counts[f"agent reply {why}"] += 1
            record = {"prompt": prompt, "intent": dialog.intent or step.intent, "source": dialog.source, "split": split}
            if dialog.origin == "feedback_down":  # a rejected answer: the grounded template is the chosen one
                chosen = _template_target(assistant, step, message)
                if chosen:
                    records.append({**record, "chosen": [{"role": "assistant", "content": chosen}],
                                    "rejected": [{"role": "assistant", "content": agent["content"].strip()}],
                                    "origin": origin, "split": "train"})
            elif reply is not None:
                records.append({**record, "completion": [{"role": "assistant", "content": reply}],
                                "origin": origin if why == "kept" else f"{origin}_repaired"})
                said = reply
            elif options.template_targets and (short := _template_target(assistant, step, message)):
                records.append({**record, "completion": [{"role": "assistant", "content": short}], "origin": "template"})
        else:
            counts["turn not drafted"] += 1
        assistant.sessions.append(session, "user", message, steps[0].intent)
        assistant.sessions.append(session, "assistant", said, steps[0].intent)
        state.store(session.state)
        assistant.sessions.save_state(session)
    return records


def build_records(assistant, dialogs: Iterable[ReplayDialog], options: ReplayOptions | None = None,
                  customers: list[str] | None = None) -> ReplayResult:
    """Replay every dialog (see the module docstring); `customers` stand in, in turn, for dialogs whose order
    number is a placeholder. The assistant must run on a throwaway data home: replayed turns run real tools."""
    options = options or ReplayOptions()
    counts: Counter = Counter()
    orders_of = _customer_orders(assistant, customers or [])
    stand_ins = [(c, o) for c, ids in orders_of.items() for o in ids[:2]]
    records: list[dict] = []
    n = 0
    for n, dialog in enumerate(dialogs, 1):
        order_of = None
        if any(_ORDER_PLACEHOLDER.search(m["content"]) for m in dialog.messages if m["role"] == "user") and stand_ins:
            order_of = stand_ins[n % len(stand_ins)]
        records.extend(replay_dialog(assistant, dialog, options, counts, order_of))
        if n % 200 == 0:
            logger.info("replayed %d dialogs, %d records", n, len(records))
    by = Counter(r["origin"] for r in records)
    stats = {"dialogs": n, "records": len(records), "by_origin": dict(by), "by_split": dict(Counter(r["split"] for r in records)),
             "turns": dict(counts), "intents": len({r["intent"] for r in records})}
    logger.info("training records: %s", stats)
    return ReplayResult(records, stats)


def feedback_dialogs(feedback: Iterable, tickets: Iterable = ()) -> list[ReplayDialog]:
    """Stored ratings (`shop.feedback.Feedback`) and answered hand-off tickets as one-turn dialogs: up = a target,
    down = a rejected answer; a ticket's human reply (`agent_reply`, when the ticket store keeps one) = a target."""
    out = []
    for f in feedback:
        if f.user_message.strip() and f.reply.strip():
            out.append(ReplayDialog([{"role": "user", "content": f.user_message}, {"role": "assistant", "content": f.reply}],
                                    source=f"feedback:{f.id}", origin="feedback_up" if f.rating > 0 else "feedback_down"))
    for t in tickets:
        question, reply = getattr(t, "customer_message", ""), getattr(t, "agent_reply", "")
        if question and reply:
            out.append(ReplayDialog([{"role": "user", "content": question}, {"role": "assistant", "content": reply}],
                                    customer_id=t.user_id, source=f"ticket:{t.id}", origin="ticket"))
    return out


def replay_shop(settings, dialogs: list[ReplayDialog], options: ReplayOptions | None = None) -> ReplayResult:
    """`build_records` on the real engine for `settings.shop_dir`, in a temporary data home (the shop's own
    orders, untouched by replayed cancellations or hand-offs), the clock at the shop's latest order event like
    the conversation benchmark. Customers with orders stand in for dialogs whose order number is a placeholder."""
    import tempfile

    from assistant.conversation.evaluate import ShopFacts, open_indexes
    from assistant.shop import data as shop
    from assistant.wiring import build_assistant

    facts = ShopFacts.load(settings.shop_dir)
    customers = sorted({o.customer_id for o in shop.load_orders(settings.shop_dir) if getattr(o, "customer_id", None)})
    chroma = settings.retrieval.chroma.model_copy(update={"url": None, "path": None})
    with tempfile.TemporaryDirectory(prefix="shopbot-replay-") as tmp:
        home = settings.model_copy(update={"home": Path(tmp), "retrieval": settings.retrieval.model_copy(update={"chroma": chroma})})
        assistant = build_assistant(home, None, use_llm=False, **open_indexes(home))
        assistant.clock = lambda: facts.today
        result = build_records(assistant, dialogs, options, customers)
        assistant.orders.close()
        assistant.sessions.close()
    return result


def sample_per_intent(dialogs: list[ReplayDialog], n: int | None, seed: int = 42) -> list[ReplayDialog]:
    """At most `n` dialogs of each intent (a seeded sample, in file order); all of them for `n` None."""
    if n is None:
        return dialogs
    import random

    by: dict[str | None, list[int]] = {}
    for i, d in enumerate(dialogs):
        by.setdefault(d.intent, []).append(i)
    rng = random.Random(seed)
    keep = {i for idx in by.values() for i in (rng.sample(idx, n) if len(idx) > n else idx)}
    return [d for i, d in enumerate(dialogs) if i in keep]


def write_records(path: Path, records: list[dict], stats: dict) -> None:
    """JSON lines, plus `<path>.stats.json` for the data card."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    path.with_suffix(".stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")


__all__ = ["ReplayDialog", "ReplayOptions", "ReplayResult", "accepts", "build_records", "feedback_dialogs", "replay_dialog",
           "replay_shop", "sample_per_intent", "write_records"]
