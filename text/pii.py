"""Personal data in free text: one detector that returns typed spans; each caller picks what to replace.

The assistant redacts stored transcripts to `[EMAIL]`, `[PHONE]`, ... and keeps order numbers (they are how a
conversation refers to an order); fine-tuning turns every kind into a Bitext-style `{{Placeholder}}`. Both call
`find_pii` (or `replace_pii`), so the rules live here once.

Kinds (`Span.kind`), most specific first:

* `email`   - `jane.doe@example.com`
* `card`    - 13-19 digits (spaces or dashes between them allowed) that pass the Luhn check
* `order`   - an order/purchase/tracking/reference token after its keyword ("order #AB12345", "tracking number
              1Z999..."), and the shop's own order numbers (`SB-10001`) anywhere
* `invoice` - an invoice/bill/receipt token after its keyword ("invoice INV-20231")
* `address` - house number, one to three name words, a street type, an optional flat ("2354 Orchard Lane, Apt 3")
* `phone`   - 7-15 digits written as a phone number: groups separated by spaces, dots or dashes (optional
              `+country` and `(area)`), `+` and 8-15 digits, or a digit run right after a phone word ("call me at")
* `number`  - any other run of 6 or more digits: an account, order or tracking number given without its keyword
* `name`    - the one or two words after "my name is", "I'm called", "call me", "name:", "this is" (capitalised)

Spans never overlap: where rules match the same characters the earlier kind above wins, so a card number is not
also a phone and "order 12345678" is an order reference. Text inside `{{...}}` placeholders is never matched.
Deliberately left alone: a card-shaped number that fails Luhn (not a card, too long for a phone), dates
(`2026-04-03`), prices and short numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PII_KINDS", "Span", "find_pii", "replace_pii"]

PII_KINDS = ("email", "card", "order", "invoice", "address", "phone", "number", "name")


@dataclass(frozen=True)
class Span:
    """One piece of personal data: `text == source[start:end]`."""

    kind: str  # one of PII_KINDS
    start: int
    end: int
    text: str


_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# An order/invoice reference: the keyword, optional "number"/"no."/"#"/"id", then a token with a digit and 4+ chars.
_REFERENCE = re.compile(
    r"\b(order|purchase|invoice|bill|receipt|tracking|reference|ref)((?:\s*(?:number|no\.?|num|id|#|:))*\s*#?\s*)"
    r"([A-Z]{0,4}-?\d[\dA-Z-]{3,})",
    re.IGNORECASE,
)
_INVOICE_WORDS = {"invoice", "bill", "receipt"}
_SHOP_ORDER = re.compile(r"\bSB-?\d{4,6}\b", re.IGNORECASE)
_STREET_TYPE = (
    r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|terrace|circle|highway|hwy|"
    r"parkway|pkwy|close|crescent|square|sq"
)
_PROSE = r"(?:and|or|the|a|an|to|for|of|in|on|at|by|is|are|was|were|best|easy|other|only|more|new|x)\b"  # not street names
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:(?!{_PROSE})[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'-]*\.?\s+){{1,3}}(?:{_STREET_TYPE})\b\.?"
    r"(?:,?\s*(?:apt|apartment|suite|unit|flat|#)\.?\s*[\w-]+)?",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w#+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,5}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,6}){1,4}(?![\w-]|\.\d)"
    r"|(?<![\w#+])\+\d{8,15}\b"
)
# A bare digit run is a phone only right after a phone word, within the same sentence.
_PHONE_AFTER_WORD = re.compile(
    r"\b(?:phone|mobile|cell|tel\.?|telephone|whatsapp|fax|call me|text me|reach me|ring me)\b[^\d\n.!?]{0,20}?"
    r"(?<![\w#])(\+?\d{7,15})\b",
    re.IGNORECASE,
)
_DATE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{4}")
_NUMBER = re.compile(r"(?<![{\w])#?\d{6,}\b")
# "my name is Ana Lopez", "I'm called ana", "this is John speaking", "name: J. Smith"
_NAME_WORD = r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'.-]*"
_NAME = re.compile(
    rf"\b(my name is|my name's|i am called|i'm called|call me|name:|this is)\s+({_NAME_WORD}(?:\s+{_NAME_WORD})?)",
    re.IGNORECASE,
)
_NOT_NAMES = {
    "a", "an", "the", "not", "very", "so", "just", "really", "about", "regarding", "urgent", "my", "your", "our",
    "in", "on", "at", "for", "to", "from", "with", "and", "but", "or", "it", "that", "this", "what", "ridiculous",
    "unacceptable", "frustrating", "terrible", "annoying", "taking", "going", "getting", "still", "is", "was",
    "back", "later", "asap", "now", "today", "tomorrow", "tonight", "when", "if", "please", "again", "anytime",
}


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _candidates(text: str):
    """(kind, start, end) for every rule's matches, most specific kind first (the order of PII_KINDS)."""
    for m in _EMAIL.finditer(text):
        yield "email", m.start(), m.end()
    for m in _CARD.finditer(text):
        if _luhn(_digits(m.group(0))):
            yield "card", m.start(), m.end()
    for m in _SHOP_ORDER.finditer(text):
        yield "order", m.start(), m.end()
    for m in _REFERENCE.finditer(text):
        kind = "invoice" if m.group(1).lower() in _INVOICE_WORDS else "order"
        yield kind, m.start(3), m.end(3)
    for m in _ADDRESS.finditer(text):
        yield "address", m.start(), m.end()
    for m in _PHONE.finditer(text):
        value = m.group(0)
        groups = re.findall(r"\d+", value)
        if not 7 <= len(_digits(value)) <= 15 or _DATE.fullmatch(value):
            continue
        if max(len(g) for g in groups) <= 2 and value[0] not in "+0(":  # "sizes 10 12 14 16"; "06 12 34 56 78" is one
            continue
        yield "phone", m.start(), m.end()
    for m in _PHONE_AFTER_WORD.finditer(text):
        yield "phone", m.start(1), m.end(1)
    for m in _NUMBER.finditer(text):
        yield "number", m.start(), m.end()
    for m in _NAME.finditer(text):
        # keep words up to the first that is not plausibly a name ("this is taking too long" is no name)
        end = None
        for w in re.finditer(r"\S+", m.group(2)):
            if w.group(0).lower().strip(".") in _NOT_NAMES:
                break
            end = m.start(2) + w.start() + len(w.group(0).rstrip(".,"))
        if end is None or (m.group(1).lower() == "this is" and not text[m.start(2)].isupper()):
            continue
        yield "name", m.start(2), end


def find_pii(text: str) -> list[Span]:
    """Every piece of personal data in `text`, as non-overlapping spans in text order."""
    taken = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(text)]
    spans = []
    for kind, start, end in _candidates(text):
        if start < end and not any(start < b and a < end for a, b in taken):
            taken.append((start, end))
            spans.append(Span(kind, start, end, text[start:end]))
    return sorted(spans, key=lambda s: s.start)


def replace_pii(text: str, replacements: Mapping[str, str]) -> str:
    """`text` with each span whose kind is in `replacements` replaced by its value; other kinds stay as written.

    Raises ValueError for a kind that is not one of PII_KINDS (a typo would silently redact nothing).
    """
    unknown = sorted(set(replacements) - set(PII_KINDS))
    if unknown:
        raise ValueError(f"Unknown personal-data kind '{unknown[0]}'; expected one of {list(PII_KINDS)}.")
    out, pos = [], 0
    for span in find_pii(text):
        if span.kind in replacements:
            out += [text[pos : span.start], replacements[span.kind]]
            pos = span.end
    return "".join(out) + text[pos:]
