"""Dialog importers, anonymisation, deduplication and the split (no model needed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from finetune.data import (
    DataConfig,
    Dialog,
    anonymise_dialog,
    anonymise_text,
    dedupe_dialogs,
    detect_format,
    load_dialogs,
    prepare_dialogs,
    split_dialogs,
    system_prompt_text,
    to_sft_records,
)
from finetune.errors import FinetuneError

BITEXT = Path("bitext") / "customer_support_dialogs.csv"


def _bitext_slice(shared_data: Path, out: Path, n: int) -> list[dict[str, str]]:
    with (shared_data / BITEXT).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [row for _, row in zip(range(n), reader, strict=False)]
        fields = reader.fieldnames
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_bitext_real_slice_with_malformed_rows(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "bitext.csv"
    rows = _bitext_slice(shared_data, path, 30)
    with path.open("a", encoding="utf-8", newline="") as fh:
        fh.write('customer support,virtual assistant,"cancel my order",cancel_order,,,,,ORDER,B,\n')  # empty response
        fh.write('customer support,virtual assistant,"too",many,cells,,,,,,,,"x","y"\n')
        fh.write('customer support,virtual assistant,"short row"\n')
    loaded = load_dialogs(path)
    assert loaded.format == "bitext"
    assert len(loaded.dialogs) == 30
    assert loaded.dialogs[0].messages[0]["content"] == rows[0]["instruction"].strip()
    assert loaded.dialogs[0].intent == rows[0]["intent"]
    reasons = [r.reason for r in loaded.rejects]
    assert len(loaded.rejects) == 3, reasons
    assert "empty response" in reasons[0]
    assert "more than the header" in reasons[1]
    assert "too few cells" in reasons[2]
    # rows span several lines (multi-line responses): the reported line is where the bad row starts
    assert loaded.rejects[0].line == path.read_text(encoding="utf-8").splitlines().index(
        'customer support,virtual assistant,"cancel my order",cancel_order,,,,,ORDER,B,'
    ) + 1


def test_bitext_keeps_placeholders_and_anonymises_tagged_entities(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "bitext.csv"
    _bitext_slice(shared_data, path, 60)
    loaded = load_dialogs(path, "bitext")
    tagged = [d for d in loaded.dialogs if d.entities and d.entities[0][0] == "order_id"]
    assert tagged, "the slice should contain an order number"
    number = tagged[0].entities[0][1]
    clean = anonymise_dialog(tagged[0])
    assert all(number not in m["content"] for m in clean.messages)
    assert "{{Order Number}}" in clean.messages[0]["content"]
    with_placeholders = next(d for d in loaded.dialogs if "{{Website Name}}" in d.messages[1]["content"])
    assert "{{Website Name}}" in anonymise_dialog(with_placeholders).messages[1]["content"]


def test_chat_jsonl_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "dialogs.jsonl"
    good = {"intent": "track_order", "messages": [
        {"role": "user", "content": "Where is my parcel?"},
        {"role": "assistant", "content": "Let me check that for you."},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": "It ships tomorrow."},
    ]}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
        json.dumps({"messages": [{"role": "bot", "content": "hi"}]}),
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                 {"role": "assistant", "content": "c"}]}),
        "",
        json.dumps({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                                 {"role": "assistant", "content": "Hello!"}]}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load_dialogs(path)
    assert loaded.format == "chat"
    assert len(loaded.dialogs) == 2
    assert loaded.dialogs[0].intent == "track_order"
    assert [(r.line, r.reason.split()[0]) for r in loaded.rejects] == [(2, "invalid"), (3, "the"), (4, "message"), (5, "two")]


def test_sharegpt_json(tmp_path: Path) -> None:
    path = tmp_path / "sharegpt.json"
    data = [
        {"conversations": [{"from": "human", "value": "Do you ship to Spain?"}, {"from": "gpt", "value": "Yes, in 3-5 days."}]},
        {"conversations": [{"from": "robot", "value": "?"}]},
        {"id": 3},
    ]
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = load_dialogs(path)
    assert loaded.format == "sharegpt"
    assert loaded.dialogs[0].messages[1] == {"role": "assistant", "content": "Yes, in 3-5 days."}
    assert [(r.line, r.reason) for r in loaded.rejects] == [
        (2, "turn from 'robot'; expected one of ['assistant', 'gpt', 'human', 'system', 'user']"),
        (3, "no 'conversations' list"),
    ]


def test_qa_csv_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text('question,answer\nHow long is delivery?,Two to four days.\n"No answer",\n', encoding="utf-8")
    loaded = load_dialogs(path)
    assert loaded.format == "qa"
    assert len(loaded.dialogs) == 1 and loaded.rejects[0].line == 3
    bad = tmp_path / "faq2.csv"
    bad.write_text("q,a\nx,y\n", encoding="utf-8")
    with pytest.raises(FinetuneError, match="needs a question and an answer column"):
        load_dialogs(bad)
    with pytest.raises(FinetuneError, match="not found"):
        load_dialogs(tmp_path / "missing.csv")
    with pytest.raises(FinetuneError, match="extension"):
        detect_format(tmp_path / "dialogs.txt")
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(FinetuneError, match="No usable dialog.*line 1"):
        load_dialogs(only_bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my name is John Smith and my email is john.smith@example.com",
         "my name is {{Customer Name}} and my email is {{Email Address}}"),
        ("call me on +44 7700 900123 please", "call me on {{Phone Number}} please"),
        ("my number is (555) 123-4567", "my number is {{Phone Number}}"),
        ("card 4111 1111 1111 1111 was charged twice", "card {{Card Number}} was charged twice"),
        ("where is order #AB12345?", "where is order {{Order Number}}?"),
        ("want help seeing order113542617735902 status", "want help seeing order{{Order Number}} status"),
        ("invoice INV-20231 is wrong", "invoice {{Invoice Number}} is wrong"),
        ("Hi, this is Maria Lopez from Leeds", "Hi, this is {{Customer Name}} from Leeds"),
        ("this is taking too long", "this is taking too long"),
        ("see the {{Order Number}} in your {{Website Name}} account", "see the {{Order Number}} in your {{Website Name}} account"),
        ("I bought 2 jackets for 120 dollars", "I bought 2 jackets for 120 dollars"),
        # the rules shared with the assistant (text.pii): addresses too; dates, size lists and "call me back" are no PII
        ("ship it to 12 Baker Street please", "ship it to {{Street Address}} please"),
        ("call me at 802-555-0143", "call me at {{Phone Number}}"),
        ("please call me back tomorrow", "please call me back tomorrow"),
        ("delivered on 2026-04-03", "delivered on 2026-04-03"),
        ("sizes 10 12 14 16 in stock", "sizes 10 12 14 16 in stock"),
        ("where is SB-10001?", "where is {{Order Number}}?"),
    ],
)
def test_anonymise_text(text: str, expected: str) -> None:
    assert anonymise_text(text) == expected


def test_anonymise_replaces_values_in_agent_turns_too() -> None:
    d = Dialog([
        {"role": "user", "content": "I am Ana. My name is Ana Ruiz, reach me at ana@shop.test about order 98765432"},
        {"role": "assistant", "content": "Thanks Ana Ruiz, order 98765432 is on its way; we'll email ana@shop.test."},
    ])
    out = anonymise_dialog(d).messages[1]["content"]
    assert out == "Thanks {{Customer Name}}, order {{Order Number}} is on its way; we'll email {{Email Address}}."


def _dialog(user: str, reply: str, intent: str | None = None) -> Dialog:
    return Dialog([{"role": "user", "content": user}, {"role": "assistant", "content": reply}], intent)


def test_dedupe_exact_and_near() -> None:
    reply = "To cancel your order, sign in, open Orders, choose the order and press Cancel. We refund within five days."
    dialogs = [
        _dialog("How do I cancel my order?", reply),
        _dialog("how do i cancel my order", reply),  # exact after normalisation
        _dialog("How do I cancel my order please?", reply),  # near duplicate
        _dialog("Where is my parcel?", "Open Orders and click Track to see where your parcel is."),
    ]
    kept, exact, near = dedupe_dialogs(dialogs, threshold=0.8)
    assert (exact, near) == (1, 1)
    assert [d.messages[0]["content"] for d in kept] == ["How do I cancel my order?", "Where is my parcel?"]
    assert dedupe_dialogs(dialogs, threshold=1.0)[2] == 0


def test_split_is_stratified_disjoint_and_reproducible() -> None:
    dialogs = [_dialog(f"question {i} about {intent}", f"answer {i}", intent)
               for intent in ("refund", "track", "cancel") for i in range(40)]
    a = split_dialogs(dialogs, 0.1, 0.2, seed=7)
    b = split_dialogs(dialogs, 0.1, 0.2, seed=7)
    c = split_dialogs(dialogs, 0.1, 0.2, seed=8)
    key = lambda part: [d.messages[0]["content"] for d in part]  # noqa: E731
    assert [key(p) for p in a] == [key(p) for p in b]
    assert key(a[2]) != key(c[2])
    train, val, test = a
    assert len(train) + len(val) + len(test) == 120
    assert not set(key(train)) & set(key(test)) and not set(key(val)) & set(key(test))
    for intent in ("refund", "track", "cancel"):
        assert sum(d.intent == intent for d in test) == 8
        assert sum(d.intent == intent for d in val) == 4
    with pytest.raises(FinetuneError, match="nothing to train on"):
        split_dialogs(dialogs, 0.5, 0.5, seed=1)


def test_prepare_real_bitext_split_matches_between_runs(shared_data: Path) -> None:
    cfg = DataConfig(seed=3)
    a = prepare_dialogs(shared_data / BITEXT, cfg)
    b = prepare_dialogs(shared_data / BITEXT, cfg)
    assert [d.source for d in a.test] == [d.source for d in b.test]
    assert a.stats["intents"] == 27 and a.stats["rejected"] == 0
    assert abs(a.stats["test"] - 0.1 * a.stats["dialogs"]) < 30


def test_sft_records_one_per_assistant_turn_with_system_prompt() -> None:
    system = system_prompt_text("service_system")
    assert system and "customer" in system
    d = Dialog([
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
    ], "x")
    records = to_sft_records([d], system)
    assert len(records) == 2
    assert records[1]["prompt"][0] == {"role": "system", "content": system}
    assert [m["content"] for m in records[1]["prompt"][1:]] == ["a", "b", "c"]
    assert records[1]["completion"] == [{"role": "assistant", "content": "d"}]
    assert to_sft_records([d], None)[0]["prompt"] == [{"role": "user", "content": "a"}]
