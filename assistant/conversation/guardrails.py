"""Guardrails: prompt-injection detection, retrieved text fenced as data, PII redaction, refusals and a
system-prompt leak check.

Rules live in the system prompt and in code, never in data: user messages and retrieved text (product
descriptions, policy chunks) can only ever be quoted inside `<data>` blocks, with instruction-like
sentences removed and the delimiters themselves neutralised, so a description saying "ignore previous
instructions" is just text about a product.
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|your|the|any)\b.{0,30}"
    r"\b(instructions?|rules?|prompts?|guidelines?|directions?)\b"
    r"|\b(reveal|show|print|repeat|tell me|output|display|give me|what(?:'s| is| are))\b.{0,30}\b(system|hidden|initial|secret)\s+"
    r"(prompt|instructions?|message|rules)\b"
    r"|\byou are now\b|\bact as (?:an? )?(?:unrestricted|dan|jailbroken|developer)\b|\bjailbreak\b|\bdeveloper mode\b"
    r"|\bnew instructions?\s*:|</?\s*(?:system|data|instructions?)\s*>|\bsystem\s*:\s",
    re.I,
)

_HARMFUL = re.compile(
    r"\b(bombs?|explosives?|weapons?|guns?|poison(?:ing|ous)?|kill(?:ing)?|murder|suicide|self[- ]harm|hack(?:s|ing|ed)?|"
    r"malware|ransomware|steal(?:ing)?|stolen credit|credit card numbers|counterfeit|drugs|meth|cocaine|heroin|"
    r"pick a lock|lock ?picking)\b",
    re.I,
)

# PII: order matters (cards before phones, so a card number is not half-redacted as a phone).
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w-])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]?\d{3,4}[\s.-]?\d{3,4}\b")
_STREET = re.compile(
    r"\b\d{1,6}\s+(?:[A-Z][A-Za-z]+\.?\s+){0,3}(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|"
    r"court|ct|place|pl|terrace|circle|highway|hwy|parkway|pkwy)\b\.?(?:,?\s*(?:apt|apartment|suite|unit|#)\s*\w+)?",
    re.I,
)
_ORDER_ID = re.compile(r"\bSB-\d{4,6}\b", re.I)


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_pii(text: str) -> str:
    """Replace emails, phone numbers, card numbers and street addresses with `[EMAIL]`, `[PHONE]`, ...

    Order numbers (SB-10001) are kept: they are how a conversation refers to an order.
    """

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else m.group(0)

    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(card, text)
    text = _STREET.sub("[ADDRESS]", text)

    def phone(m: re.Match[str]) -> str:
        start = m.start()
        if _ORDER_ID.match(text, max(0, start - 3)) or text[max(0, start - 3) : start].upper().endswith("SB-"):
            return m.group(0)
        digits = re.sub(r"\D", "", m.group(0))
        return "[PHONE]" if len(digits) >= 7 else m.group(0)

    return _PHONE.sub(phone, text)


def is_injection(text: str) -> bool:
    """Does the text try to change the assistant's rules or extract its instructions?"""
    return bool(_INJECTION.search(text))


def is_harmful(text: str) -> bool:
    """Is the request about something a shop assistant must refuse (weapons, hacking, drugs, self-harm)?"""
    return bool(_HARMFUL.search(text))


def fence(text: str, limit: int = 1200) -> str:
    """Prepare retrieved or user text to sit inside `<data>`: drop instruction-like sentences, break tags."""
    text = re.sub(r"<\s*/?\s*(data|system|instructions?)\s*>", " ", text, flags=re.I)
    kept = [s for s in re.split(r"(?<=[.!?])\s+", text) if not is_injection(s)]
    if len(kept) != len(re.split(r"(?<=[.!?])\s+", text)):
        logger.info("removed %d instruction-like sentence(s) from data", len(re.split(r"(?<=[.!?])\s+", text)) - len(kept))
    return " ".join(kept)[:limit]


def leaks_prompt(reply: str, system_prompt: str, n: int = 8) -> bool:
    """True when the reply repeats any run of `n` consecutive words of the system prompt."""
    words = re.findall(r"\w+", system_prompt.lower())
    grams = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    reply_words = re.findall(r"\w+", reply.lower())
    return any(" ".join(reply_words[i : i + n]) in grams for i in range(len(reply_words) - n + 1))
