"""Sentence splitting, once: product copy, drafted replies, policy passages, fenced data and summaries.

`split_sentences` ends a sentence at `.`, `!` or `?` (closing quotes and brackets go with it) when whitespace and
then a capital letter, a digit or an opening quote follow, and at every line break; a leading bullet marker
(`-`, `*`, `•`, `1.`, `2)`) is dropped. Decimals ("2.5 L", "$84.95") have no space after the point and stay whole;
a full stop after a known abbreviation ("e.g.", "approx.", "12 in.", a company's "Co.") ends nothing. Starting a sentence only at a
capital keeps "Made of nylon. approx. weight 450 g" whole rather than guessing at unknown abbreviations.

`split_clauses` is for chat messages, which are often all lowercase: it also splits before lowercase words and
after `;`, `,` and `:`.
"""

from __future__ import annotations

import re

__all__ = ["split_clauses", "split_sentences"]

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_END = re.compile(r"[.!?]+[\"')\]”’»]*(?=\s)")
_CLAUSE_END = re.compile(r"[.!?]+[\"')\]”’»]*(?=\s)|[;,:](?=\s)")
# (company suffixes too: "Bluewater Bottle Co. Boulder 0.75 L Bottle" is one product name)
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|approx|incl|no|vs|dr|mr|mrs|st|co|inc|ltd|corp|bros)|\d\s*(?:in|oz|lbs?|ft))\.$", re.IGNORECASE)
_OPENERS = "\"'(“‘[«¿¡"


def _split_line(line: str, ends: re.Pattern[str], any_case: bool) -> list[str]:
    out, start = [], 0
    for m in ends.finditer(line):
        rest = line[m.end() :].lstrip()
        if not rest:
            break
        nxt = rest[0]
        if not (any_case or nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
            continue
        if m.group(0).startswith(".") and _ABBREV.search(line[start : m.start() + 1]):
            continue
        out.append(line[start : m.end()].strip())
        start = m.end()
    if line[start:].strip():
        out.append(line[start:].strip())
    return out


def _split(text: str, ends: re.Pattern[str], any_case: bool) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        if line:
            out += _split_line(line, ends, any_case)
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped, in order (see the module docstring for the rules)."""
    return _split(text, _END, any_case=False)


def split_clauses(text: str) -> list[str]:
    """Like `split_sentences`, but also after `;`, `,` and `:` and before lowercase words (chat text)."""
    return _split(text, _CLAUSE_END, any_case=True)
