"""Service dialogs -> chat records for SFT: import, anonymise, deduplicate, split.

Importers (all return a `DialogLoad`; bad records are kept as `Reject(line, reason)`, never dropped silently):
- Bitext CSV (`instruction`, `response`, `intent`, `category`, `entity_type`, `entity_value`, ...)
- chat JSONL, one `{"messages": [{"role", "content"}, ...], "intent"?: ...}` per line
- ShareGPT JSON, a list of `{"conversations": [{"from": "human"|"gpt"|"system", "value"}]}` (or JSONL of them)
- plain question/answer CSV (`question`/`answer`, `prompt`/`response` or `input`/`output` columns)

Then `prepare_dialogs` anonymises personal data into `{{Placeholder}}` tokens (Bitext's own `{{Order Number}}`
style, which the assistant fills from the shop profile at serve time), removes exact and near duplicates
(MinHash on word shingles, verified with exact Jaccard) and splits train/validation/test stratified by intent,
reproducibly by seed. `to_sft_records` renders a split as TRL prompt-completion conversations, one per
assistant turn, with the same system prompt the assistant serves.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from finetune.errors import FinetuneError
from text import find_pii

logger = logging.getLogger(__name__)

Format = Literal["auto", "bitext", "chat", "sharegpt", "qa", "records"]
FORMATS = ("bitext", "chat", "sharegpt", "qa", "records")


class DataConfig(BaseModel):
    """The `data:` section of a training config: where dialogs come from and how they are split."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="Dialog file; `--data` overrides it.")
    format: Format = Field(
        "auto", description="auto|bitext|chat|sharegpt|qa|records (records: prompt-completion JSONL written by "
        "`shopbot finetune build-data`, already in the serving format and split)."
    )
    system_prompt: str | None = Field(
        "service_system", description="Prompt template under prompts/ used as the system turn (None: no system turn)."
    )
    anonymise: bool = Field(
        True, description="Replace emails, phones, card/order numbers, street addresses and names by placeholders."
    )
    near_duplicate_threshold: float = Field(
        0.9, ge=0.0, le=1.0, description="Jaccard similarity of word 3-shingles above which a dialog is a duplicate."
    )
    val_fraction: float = Field(0.05, ge=0.0, lt=1.0, description="Share of dialogs held out for validation.")
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Share of dialogs held out for the final test.")
    seed: int = Field(42, description="Seed of the split (same seed and data: same split).")
    max_train_examples: int | None = Field(None, description="Cap on training dialogs (after the split).")
    max_val_examples: int | None = Field(None, description="Cap on validation dialogs used for eval loss.")
    # `shopbot finetune build-data` (the shop's adapter): which dialogs are replayed through the engine, and how
    dialogs: list[str] = Field(
        default_factory=list, description="Dialog files replayed besides the shop's dialogs.jsonl (Bitext CSV, chat "
        "JSONL, ShareGPT); relative paths are from the working directory."
    )
    max_dialogs_per_intent: int | None = Field(
        None, description="Of each extra dialog file, at most this many dialogs per intent (replay costs ~0.1 s each)."
    )
    template_targets: bool = Field(
        True, description="Where the agent's reply fails the grounding check, train on the step's templated answer."
    )
    repair: bool = Field(True, description="Keep an agent reply without its unsupported sentences (required facts kept).")


@dataclass
class Dialog:
    """One conversation: alternating user/assistant turns (a system turn, if any, comes first)."""

    messages: list[dict[str, str]]
    intent: str | None = None
    source: str = ""  # "file:line", for error messages and the data card
    entities: list[tuple[str, str]] = field(default_factory=list)  # tagged (type, value) pairs, e.g. Bitext's


@dataclass
class Reject:
    """A record that could not be imported, with the 1-based line (or item) number and why."""

    line: int
    reason: str


@dataclass
class DialogLoad:
    path: Path
    format: str
    dialogs: list[Dialog]
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class PreparedData:
    """The anonymised, deduplicated dialogs split three ways, plus the figures the data card reports."""

    train: list[Dialog]
    val: list[Dialog]
    test: list[Dialog]
    stats: dict[str, object]


# ---------------------------------------------------------------- importers


def detect_format(path: Path) -> str:
    """Guess the importer from the extension and the first record."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as fh:
            header = [h.strip().lower() for h in next(csv.reader(fh), [])]
        if "instruction" in header and "response" in header:
            return "bitext"
        return "qa"
    if suffix in (".jsonl", ".json"):
        text = path.read_text(encoding="utf-8").lstrip()
        if not text:
            raise FinetuneError(f"Dialog file {path} is empty; give a file with at least one dialog.")
        if text[0] == "[":
            return "sharegpt"
        try:
            first = json.loads(text.splitlines()[0])
        except json.JSONDecodeError:
            return "chat"  # the chat importer reports the bad line
        if isinstance(first, dict) and "prompt" in first and ("completion" in first or "chosen" in first):
            return "records"
        return "sharegpt" if isinstance(first, dict) and "conversations" in first else "chat"
    raise FinetuneError(
        f"Cannot tell the format of {path} from its extension '{suffix}'; use .csv, .jsonl or .json, "
        f"or pass the format explicitly (one of {list(FORMATS)})."
    )


def load_dialogs(path: str | Path, format: Format = "auto") -> DialogLoad:
    """Read dialogs from `path` with the importer for `format` ("auto" detects it).

    Raises FinetuneError for a missing file, an unknown format or a file with no usable dialog.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FinetuneError(f"Dialog file {path} not found; pass an existing file with --data.")
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "records":
        raise FinetuneError(f"{path} holds training records (prompt/completion), not dialogs; read it with "
                            "`load_records` (`finetune train --data` does), or give a dialog file.")
    readers = {"bitext": _read_bitext, "chat": _read_chat_jsonl, "sharegpt": _read_sharegpt, "qa": _read_qa_csv}
    if fmt not in readers:
        raise FinetuneError(f"Unknown dialog format '{fmt}'; expected one of {list(FORMATS)}.")
    dialogs, rejects = readers[fmt](path)
    for r in rejects:
        logger.warning("%s:%d skipped: %s", path, r.line, r.reason)
    if not dialogs:
        raise FinetuneError(
            f"No usable dialog in {path} (format {fmt}, {len(rejects)} bad records"
            + (f", first: line {rejects[0].line}: {rejects[0].reason}" if rejects else "")
            + "); check the file's format."
        )
    logger.info("loaded %d dialogs from %s (%s), %d rejected", len(dialogs), path, fmt, len(rejects))
    return DialogLoad(path=path, format=fmt, dialogs=dialogs, rejects=rejects)


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    """Rows with the line each starts on (multi-line quoted cells make row number != line number)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        rows = []
        line = reader.line_num + 1
        for row in reader:
            rows.append((line, row))
            line = reader.line_num + 1
    return header, rows


def _bad_shape(row: dict[str, str | None]) -> str | None:
    if None in row:  # DictReader puts surplus cells under the key None
        return f"{len(row) - 1 + len(row[None])} cells, more than the header's {len(row) - 1}"
    missing = [k for k, v in row.items() if v is None]
    if missing:
        return f"too few cells (no value for {missing})"
    return None


def _read_bitext(path: Path) -> tuple[list[Dialog], list[Reject]]:
    header, rows = _csv_rows(path)
    needed = {"instruction", "response"}
    if not needed <= set(header):
        raise FinetuneError(f"Bitext CSV {path} lacks columns {sorted(needed - set(header))}; its header is {header}.")
    dialogs, rejects = [], []
    for line, row in rows:
        bad = _bad_shape(row)
        question, answer = (row.get("instruction") or "").strip(), (row.get("response") or "").strip()
        if bad or not question or not answer:
            rejects.append(Reject(line, bad or ("empty instruction" if not question else "empty response")))
            continue
        # Bitext tags the entity in the instruction; personal ones are anonymised like the regexes' finds.
        etype, evalue = (row.get("entity_type") or "").strip(), (row.get("entity_value") or "").strip()
        dialogs.append(
            Dialog(
                messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                intent=(row.get("intent") or "").strip() or None,
                source=f"{path.name}:{line}",
                entities=[(etype, evalue)] if etype and evalue else [],
            )
        )
    return dialogs, rejects


def _read_qa_csv(path: Path) -> tuple[list[Dialog], list[Reject]]:
    header, rows = _csv_rows(path)
    pairs = [("question", "answer"), ("prompt", "response"), ("input", "output"), ("instruction", "response")]
    cols = next((p for p in pairs if set(p) <= set(header)), None)
    if cols is None:
        raise FinetuneError(
            f"Q/A CSV {path} needs a question and an answer column, one of {pairs}; its header is {header}."
        )
    dialogs, rejects = [], []
    for line, row in rows:
        bad = _bad_shape(row)
        q, a = (row.get(cols[0]) or "").strip(), (row.get(cols[1]) or "").strip()
        if bad or not q or not a:
            rejects.append(Reject(line, bad or f"empty {cols[0] if not q else cols[1]}"))
            continue
        intent = (row.get("intent") or row.get("category") or "").strip() or None
        dialogs.append(
            Dialog([{"role": "user", "content": q}, {"role": "assistant", "content": a}], intent, f"{path.name}:{line}")
        )
    return dialogs, rejects


def _check_messages(messages: object) -> tuple[list[dict[str, str]] | None, str | None]:
    """Validate a chat: roles known, contents non-empty strings, user/assistant alternate, ends on assistant."""
    if not isinstance(messages, list) or not messages:
        return None, "no 'messages' list"
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            return None, f"message {i} is not an object with a string 'content'"
        role = m.get("role")
        if role not in ("system", "user", "assistant"):
            return None, f"message {i} has role {role!r}; expected system, user or assistant"
        if not m["content"].strip():
            return None, f"message {i} ({role}) is empty"
        out.append({"role": role, "content": m["content"].strip()})
    turns = out[1:] if out[0]["role"] == "system" else out
    if not turns or turns[0]["role"] != "user":
        return None, "the first non-system message must come from the user"
    for prev, cur in zip(turns, turns[1:], strict=False):
        if prev["role"] == cur["role"]:
            return None, f"two '{cur['role']}' messages in a row; user and assistant must alternate"
    if turns[-1]["role"] != "assistant":
        return None, "the last message must be the assistant's reply"
    return out, None


def _read_chat_jsonl(path: Path) -> tuple[list[Dialog], list[Reject]]:
    dialogs, rejects = [], []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append(Reject(line_no, f"invalid JSON ({exc.msg})"))
                continue
            if not isinstance(obj, dict):
                rejects.append(Reject(line_no, "not a JSON object"))
                continue
            messages, reason = _check_messages(obj.get("messages"))
            if reason:
                rejects.append(Reject(line_no, reason))
                continue
            intent = obj.get("intent")
            dialogs.append(Dialog(messages, str(intent) if intent else None, f"{path.name}:{line_no}"))
    return dialogs, rejects


_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


def _read_sharegpt(path: Path) -> tuple[list[Dialog], list[Reject]]:
    text = path.read_text(encoding="utf-8")
    items: list[tuple[int, object]] = []
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FinetuneError(f"ShareGPT file {path} is not valid JSON (line {exc.lineno}: {exc.msg}).") from exc
        items = list(enumerate(data, 1))  # "line" = item number in the list
    else:
        for line_no, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((line_no, json.loads(line)))
                except json.JSONDecodeError as exc:
                    items.append((line_no, f"invalid JSON ({exc.msg})"))
    dialogs, rejects = [], []
    for n, obj in items:
        if isinstance(obj, str):
            rejects.append(Reject(n, obj))
            continue
        convo = obj.get("conversations") if isinstance(obj, dict) else None
        if not isinstance(convo, list):
            rejects.append(Reject(n, "no 'conversations' list"))
            continue
        bad = next((t for t in convo if not isinstance(t, dict) or t.get("from") not in _SHAREGPT_ROLES), None)
        if bad is not None:
            who = bad.get("from") if isinstance(bad, dict) else bad
            rejects.append(Reject(n, f"turn from {who!r}; expected one of {sorted(_SHAREGPT_ROLES)}"))
            continue
        messages, reason = _check_messages(
            [{"role": _SHAREGPT_ROLES[t["from"]], "content": t.get("value")} for t in convo]
        )
        if reason:
            rejects.append(Reject(n, reason))
            continue
        intent = obj.get("intent") or obj.get("category")
        dialogs.append(Dialog(messages, str(intent) if intent else None, f"{path.name}:{n}"))
    return dialogs, rejects


# ---------------------------------------------------------------- anonymisation

# What each kind of personal data (`text.find_pii`, shared with the assistant's redaction) becomes. A bare long
# number is most often an order number in service dialogs.
_PLACEHOLDERS = {
    "email": "{{Email Address}}",
    "card": "{{Card Number}}",
    "order": "{{Order Number}}",
    "invoice": "{{Invoice Number}}",
    "address": "{{Street Address}}",
    "phone": "{{Phone Number}}",
    "number": "{{Order Number}}",
    "name": "{{Customer Name}}",
}
_PERSONAL_ENTITIES = {
    "order_id": "{{Order Number}}",
    "invoice_id": "{{Invoice Number}}",
    "person_name": "{{Person Name}}",
    "email": "{{Email Address}}",
    "phone_number": "{{Phone Number}}",
}


def find_personal_data(text: str) -> dict[str, str]:
    """Personal values found in `text` -> the placeholder each one becomes."""
    return {span.text: _PLACEHOLDERS[span.kind] for span in find_pii(text)}


def anonymise_dialog(dialog: Dialog) -> Dialog:
    """Replace personal data found in the customer's turns (and Bitext's tagged entities) in every turn.

    The values are found in the user turns and replaced everywhere, so an agent reply that repeats the customer's
    order number gets the same placeholder. Existing `{{Placeholder}}` tokens are left untouched.
    """
    values: dict[str, str] = {}
    for etype, evalue in dialog.entities:
        if etype in _PERSONAL_ENTITIES:
            values[evalue] = _PERSONAL_ENTITIES[etype]
            if evalue.startswith("#"):
                values[evalue[1:]] = _PERSONAL_ENTITIES[etype]
    for m in dialog.messages:
        if m["role"] == "user":
            for value, placeholder in find_personal_data(m["content"]).items():
                values.setdefault(value, placeholder)
    # Numbers and addresses the user never typed (an agent reply quoting another order number) are personal too;
    # names are not looked for there ("this is a great choice").
    for m in dialog.messages:
        if m["role"] != "user":
            for value, placeholder in find_personal_data(m["content"]).items():
                if placeholder != "{{Customer Name}}":
                    values.setdefault(value, placeholder)
    if not values:
        return dialog
    # longest first, so "#12588" is replaced before "12588"; whole-token matches only
    pattern = re.compile("|".join(_token_pattern(v) for v in sorted(values, key=len, reverse=True)), re.IGNORECASE)
    lookup = {k.lower().lstrip("#"): v for k, v in values.items()}
    messages = [
        {"role": m["role"], "content": pattern.sub(lambda x: lookup[x.group(0).lower().lstrip("#")], m["content"])}
        for m in dialog.messages
    ]
    return Dialog(messages, dialog.intent, dialog.source)


def _token_pattern(value: str) -> str:
    """`value` as a whole token (a leading "#" goes with it); a number may follow letters ("order12345")."""
    value = value.lstrip("#")
    before = r"(?<![\d{#])" if value[:1].isdigit() else r"(?<![\w{#])"
    return rf"{before}#?{re.escape(value)}(?![\w}}])"


def anonymise_text(text: str) -> str:
    """Anonymise one piece of customer text on its own."""
    d = anonymise_dialog(Dialog([{"role": "user", "content": text}]))
    return d.messages[0]["content"]


# ---------------------------------------------------------------- deduplication

_NUM_PERM, _BANDS = 64, 16  # 16 bands of 4 rows: pairs at Jaccard 0.9 collide with p > 0.99
_PRIME = (1 << 61) - 1


def _normalise(dialog: Dialog) -> str:
    text = " ".join(m["content"] for m in dialog.messages if m["role"] != "system").lower()
    return " ".join(re.findall(r"[\w{}]+", text))


def _shingles(text: str, n: int = 3) -> set[str]:
    words = text.split()
    if len(words) < n:
        return {text}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def dedupe_dialogs(dialogs: list[Dialog], threshold: float = 0.9) -> tuple[list[Dialog], int, int]:
    """Drop exact duplicates (same normalised text) and near duplicates (shingle Jaccard >= threshold).

    The first occurrence is kept. Returns (kept, exact_removed, near_removed).
    """
    import numpy as np

    seen: set[str] = set()
    unique: list[Dialog] = []
    for d in dialogs:
        key = hashlib.sha1(_normalise(d).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            unique.append(d)
    exact = len(dialogs) - len(unique)
    if threshold >= 1.0 or len(unique) < 2:
        return unique, exact, 0

    rng = np.random.default_rng(1)
    a = rng.integers(1, _PRIME, _NUM_PERM, dtype=np.uint64)[:, None]
    b = rng.integers(0, _PRIME, _NUM_PERM, dtype=np.uint64)[:, None]
    shingle_sets = [_shingles(_normalise(d)) for d in unique]
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    rows = _NUM_PERM // _BANDS
    for i, sh in enumerate(shingle_sets):
        h = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in sh],
                     dtype=np.uint64)
        # (a*h + b) mod p per permutation, in 64-bit with wraparound: a cheap universal hash that is fine here
        sig = ((h[None, :] * a + b) % np.uint64(_PRIME)).min(axis=1)  # (NUM_PERM,)
        for band in range(_BANDS):
            buckets[(band, sig[band * rows : (band + 1) * rows].tobytes())].append(i)
    dropped: set[int] = set()
    for members in buckets.values():
        for j_pos, j in enumerate(members):
            if j in dropped:
                continue
            for i in members[:j_pos]:
                if i in dropped:
                    continue
                inter = len(shingle_sets[i] & shingle_sets[j])
                if inter / (len(shingle_sets[i] | shingle_sets[j]) or 1) >= threshold:
                    dropped.add(j)
                    break
    kept = [d for i, d in enumerate(unique) if i not in dropped]
    return kept, exact, len(dropped)


# ---------------------------------------------------------------- split


def split_dialogs(
    dialogs: list[Dialog], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[Dialog], list[Dialog], list[Dialog]]:
    """Train/validation/test, stratified by intent (dialogs without one form their own stratum).

    Deterministic for a given seed and input order. Each stratum gives round(n * fraction) dialogs to
    validation and test, at least one each when it has three or more dialogs.
    """
    if val_fraction + test_fraction >= 1.0:
        raise FinetuneError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves nothing to train on; keep it < 1."
        )
    strata: dict[str, list[Dialog]] = defaultdict(list)
    for d in dialogs:
        strata[d.intent or ""].append(d)
    rng = random.Random(seed)
    train, val, test = [], [], []
    for intent in sorted(strata):
        group = strata[intent][:]
        rng.shuffle(group)
        n = len(group)
        n_test = round(n * test_fraction)
        n_val = round(n * val_fraction)
        if n >= 3:
            n_test = max(n_test, 1 if test_fraction > 0 else 0)
            n_val = max(n_val, 1 if val_fraction > 0 else 0)
        test += group[:n_test]
        val += group[n_test : n_test + n_val]
        train += group[n_test + n_val :]
    for part in (train, val, test):
        rng.shuffle(part)
    return train, val, test


def prepare_dialogs(path: str | Path, config: DataConfig) -> PreparedData:
    """Load, anonymise, deduplicate and split the dialogs in `path` as `config` says."""
    loaded = load_dialogs(path, config.format)
    dialogs = [anonymise_dialog(d) for d in loaded.dialogs] if config.anonymise else loaded.dialogs
    kept, exact, near = dedupe_dialogs(dialogs, config.near_duplicate_threshold)
    train, val, test = split_dialogs(kept, config.val_fraction, config.test_fraction, config.seed)
    if config.max_train_examples:
        train = train[: config.max_train_examples]
    if config.max_val_examples:
        val = val[: config.max_val_examples]
    if not train:
        raise FinetuneError(f"No training dialogs left from {path} after deduplication and the split; add data.")
    intents = sorted({d.intent for d in kept if d.intent})
    stats: dict[str, object] = {
        "source": str(loaded.path),
        "format": loaded.format,
        "records_read": len(loaded.dialogs) + len(loaded.rejects),
        "rejected": len(loaded.rejects),
        "rejects_sample": [f"line {r.line}: {r.reason}" for r in loaded.rejects[:10]],
        "exact_duplicates_removed": exact,
        "near_duplicates_removed": near,
        "dialogs": len(kept),
        "train": len(train),
        "validation": len(val),
        "test": len(test),
        "intents": len(intents),
        "anonymised": config.anonymise,
        "seed": config.seed,
    }
    logger.info("prepared %s", stats)
    return PreparedData(train, val, test, stats)


# ---------------------------------------------------------------- SFT records


def system_prompt_text(name: str | None) -> str | None:
    """The system turn the assistant serves, rendered from `prompts/<name>.md`."""
    if not name:
        return None
    from prompts import render

    return render(name).strip()


def to_sft_records(dialogs: list[Dialog], system_prompt: str | None) -> list[dict[str, object]]:
    """TRL conversational prompt-completion records, one per assistant turn.

    `prompt` is the system turn plus every message before that assistant turn, `completion` the turn itself,
    so the loss covers assistant tokens only (TRL's completion mask) while earlier turns give context.
    A system turn already in the dialog is kept instead of ours.
    """
    records = []
    for d in dialogs:
        messages = d.messages
        if system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system_prompt}, *messages]
        for i, m in enumerate(messages):
            if m["role"] == "assistant":
                records.append({"prompt": messages[:i], "completion": [m], "intent": d.intent or ""})
    return records


# ---------------------------------------------------------------- records in the serving format


@dataclass
class RecordData:
    """Prompt-completion records written by `shopbot finetune build-data`, by their `split` field."""

    train: list[dict[str, object]]
    val: list[dict[str, object]]
    test: list[dict[str, object]]
    preference: list[dict[str, object]]  # prompt/chosen/rejected, for the optional DPO step
    stats: dict[str, object]


def load_records(path: str | Path, config: DataConfig) -> RecordData:
    """Read a records JSONL (`{"prompt": [...], "completion": [...], "split": "train|val|test", ...}` per line,
    or `chosen`/`rejected` instead of `completion`).

    Raises:
        FinetuneError: a line that is not such a record (its number and the fix), or no training record.
    """
    path = Path(path).expanduser()
    splits: dict[str, list[dict[str, object]]] = {"train": [], "val": [], "test": [], "preference": []}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FinetuneError(f"{path} line {n}: not JSON ({exc.msg}); rebuild it with `shopbot finetune build-data`.") from exc
            prompt = record.get("prompt") if isinstance(record, dict) else None
            if not isinstance(prompt, list) or not prompt or prompt[-1].get("role") != "user":
                raise FinetuneError(f"{path} line {n}: 'prompt' must be a list of messages ending with the user's; "
                                    "rebuild the file with `shopbot finetune build-data`.")
            if "chosen" in record and "rejected" in record:
                splits["preference"].append(record)
                continue
            if not isinstance(record.get("completion"), list) or not record["completion"]:
                raise FinetuneError(f"{path} line {n}: no 'completion' (or 'chosen'/'rejected'); rebuild the file.")
            split = record.get("split", "train")
            if split not in ("train", "val", "test"):
                raise FinetuneError(f"{path} line {n}: split '{split}'; expected one of ['train', 'val', 'test'].")
            splits[split].append(record)
    train, val = splits["train"], splits["val"]
    if config.max_train_examples:
        train = train[: config.max_train_examples]
    if config.max_val_examples:
        val = val[: config.max_val_examples]
    if not train:
        raise FinetuneError(f"No training records in {path}; replay more dialogs (`shopbot finetune build-data`).")
    stats_file = path.with_suffix(".stats.json")
    stats: dict[str, object] = {
        "source": str(path), "format": "records", "train": len(train), "validation": len(val), "test": len(splits["test"]),
        "preference": len(splits["preference"]), "seed": config.seed,
        "intents": len({r.get("intent") for r in train if r.get("intent")}),
        "replay": json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.is_file() else None,
    }
    logger.info("records %s", {k: v for k, v in stats.items() if k != "replay"})
    return RecordData(train, val, splits["test"], splits["preference"], stats)
