"""Understanding one turn: which intent it is and which slots (order numbers, product references,
quantities, sizes) it carries.

The router does not ask the 135M chat model. It is a logistic-regression head on sentence embeddings
(the bundled MiniLM through `retrieval.embed.Embedder`), trained at first use on the seed utterances
shipped in `assistant/intent_seed.jsonl`, the user turns of the shop's dialogs and, when given, extra
labelled data (e.g. the Bitext train split mapped with `BITEXT_TO_INTENT`). The fitted head is cached
under the data home keyed by the embedder name and a hash of the training data. Fast rules take the
clear cases first (an order number plus "cancel", "talk to a human", a bare "yes"), so they never
depend on the classifier.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

INTENTS = (
    "product_search",
    "product_question",
    "compare",
    "recommendation",
    "order_status",
    "cancel_order",
    "change_order",
    "return_refund",
    "delivery",
    "payment",
    "account",
    "policy_question",
    "human_handoff",
    "chit_chat",
    "out_of_scope",
)

# Bitext's 27 customer-support intents mapped onto ours. Placing an order means finding what to buy;
# feedback, complaints and "contact customer service" go to a person; invoices are billing.
BITEXT_TO_INTENT = {
    "cancel_order": "cancel_order",
    "change_order": "change_order",
    "change_shipping_address": "change_order",
    "place_order": "product_search",
    "track_order": "order_status",
    "check_refund_policy": "return_refund",
    "get_refund": "return_refund",
    "track_refund": "return_refund",
    "delivery_options": "delivery",
    "delivery_period": "delivery",
    "check_payment_methods": "payment",
    "payment_issue": "payment",
    "check_invoice": "payment",
    "check_invoices": "payment",
    "get_invoice": "payment",
    "create_account": "account",
    "delete_account": "account",
    "edit_account": "account",
    "recover_password": "account",
    "registration_problems": "account",
    "switch_account": "account",
    "set_up_shipping_address": "account",
    "newsletter_subscription": "account",
    "check_cancellation_fee": "policy_question",
    "contact_customer_service": "human_handoff",
    "contact_human_agent": "human_handoff",
    "complaint": "human_handoff",
    "review": "human_handoff",
}

SEED_FILE = Path(__file__).parent / "intent_seed.jsonl"


class TextEncoder(Protocol):
    """What the router needs from an embedder (`retrieval.embed.Embedder` fits)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


# ---------------------------------------------------------------- slots

ORDER_ID = re.compile(r"\b(?:SB|sb|Sb)[-\s#]?(\d{4,6})\b|(?:order|#)\s*(?:number|no\.?|#)?\s*#?(\d{4,6})\b", re.I)
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "last": -1,
}
_ORDINAL_REF = re.compile(
    r"\b(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)\s+(?!(?:month|week|year|time|night|order|purchase|"
    r"summer|winter|spring|autumn|fall|weekend|day)\b)(?:one|item|product|option|result|of them|\w+)"
    r"|\b(?:option|number|item|#)\s*([1-5])\b"
    # "the first or the second?": an ordinal that ends the phrase
    r"|\bthe\s+(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)\b(?=\s*(?:[?.!,]|$|or\b|and\b))",
    re.I,
)
_COMPARATIVE = re.compile(r"\b(cheap|cheaper|cheapest|expensive|more expensive|pricier|priciest|most expensive|"
                          r"best rated|highest rated|top rated)\b", re.I)
# Words after "that/this/those" that do not name a product ("any that are", "those in blue", "this one")
_NOT_NOUNS = frozenset("""one ones order orders status price same other way store shop are is was were be in on at with
for of to and or but have has had come comes would will can could do does did i you we they it so as from by than then""".split())
_DEMONSTRATIVE = re.compile(r"\b(?:that|this|the|those|these)\s+(one|ones|[a-z]+s?)\b", re.I)
_QUANTITY = re.compile(r"\b(\d{1,2})\s*(?:x\b|pcs\b|pieces\b|units\b|pairs?\b|of (?:them|these|those)\b)|\bqty\s*(\d{1,2})\b", re.I)
_SIZE = re.compile(r"\bsize\s*([0-9]{1,2}(?:\.5)?|xxs|xs|s|m|l|xl|xxl|xxxl|small|medium|large|extra large)\b", re.I)
_YES = re.compile(r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|confirm(?:ed)?|please do|go ahead|do it|y)\b", re.I)
_NO = re.compile(r"^\s*(?:no|nope|nah|don'?t|do not|stop|never ?mind|cancel that|n)\b", re.I)
_ASKS_MORE = re.compile(r"^\W*(?:and|but|also|btw|by the way)\W+(?:how|what|when|where|which|who|why|is|are|do|does|will|would|can|"
                        r"could|should|tell me)\b|\b(?:how|what|when|where|which|who|why|is|are|do|does|will|would|can|could|"
                        r"should)\b[^?]*\?", re.I)
_SIZE_WORDS = {"small": "S", "medium": "M", "large": "L", "extra large": "XL"}


@dataclass
class ProductRef:
    """A reference to earlier shown products: an index into them, a comparative, or a noun to match."""

    index: int | None = None  # 0-based; -1 = last
    comparative: str | None = None  # "cheaper", "most expensive", "best rated"
    noun: str | None = None  # "boots" in "the cheaper boots" / "that jacket"


@dataclass
class Slots:
    order_ids: list[str] = field(default_factory=list)  # normalised "SB-10001"
    refs: list[ProductRef] = field(default_factory=list)
    quantity: int | None = None
    size: str | None = None
    confirms: bool = False  # "yes", "yes, cancel SB-10001"
    declines: bool = False  # "no", "never mind"


def normalise_order_id(digits: str) -> str:
    return f"SB-{digits}"


def extract_slots(text: str) -> Slots:
    """Order numbers, product references, quantity, size and yes/no from one message."""
    slots = Slots()
    for m in ORDER_ID.finditer(text):
        oid = normalise_order_id(m.group(1) or m.group(2))
        if oid not in slots.order_ids:
            slots.order_ids.append(oid)
    # Plain 5-digit numbers said in an order context ("where is 10023") count as order numbers too.
    if not slots.order_ids and re.search(r"\b(order|cancel|track|return|parcel|package|refund)\b", text, re.I):
        for m in re.finditer(r"(?<![$€£\d.])\b(\d{5})\b(?!\s*(?:%|days?|\$|usd|eur|dollars?))", text, re.I):
            if re.search(r"\b[A-Z]{2},?\s*$|\b(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr),?\s+\w+,?\s*$", text[: m.start()]):
                continue  # a postal code after a state or street ("Burlington, VT 05401") is no order number
            slots.order_ids.append(normalise_order_id(m.group(1)))
    for m in _ORDINAL_REF.finditer(text):
        if m.group(1) or m.group(3):
            slots.refs.append(ProductRef(index=_ORDINALS[(m.group(1) or m.group(3)).lower()]))
        else:
            slots.refs.append(ProductRef(index=int(m.group(2)) - 1))
    comp = _COMPARATIVE.search(text)
    if comp:
        noun = re.search(re.escape(comp.group(0)) + r"\s+(?:one|([a-z]+))", text, re.I)
        slots.refs.append(ProductRef(comparative=comp.group(1).lower(), noun=noun.group(1).lower() if noun and noun.group(1) else None))
    if not slots.refs:
        for m in _DEMONSTRATIVE.finditer(text):
            word = m.group(1).lower()
            if word in {"one", "ones"} and m.group(0).lower().startswith(("that", "this")):
                slots.refs.append(ProductRef())
            elif word not in _NOT_NOUNS and m.group(0).lower().startswith(("that", "this", "those", "these")):
                slots.refs.append(ProductRef(noun=word))
    q = _QUANTITY.search(text)
    if q:
        slots.quantity = int(q.group(1) or q.group(2))
    s = _SIZE.search(text)
    if s:
        raw = s.group(1).lower()
        slots.size = _SIZE_WORDS.get(raw, raw.upper())
    yes = _YES.match(text)
    # "ok and how long does a refund take?" asks something new: no yes to the action waiting for one
    slots.confirms = bool(yes) and not _ASKS_MORE.search(text[yes.end():])
    slots.declines = bool(_NO.match(text)) and not slots.confirms
    return slots


# ---------------------------------------------------------------- rules

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("human_handoff", re.compile(r"\b(talk|speak|chat|connect|transfer|put me through)\w*\b.{0,30}\b(human|person|agent|someone|somebody|representative|operator|manager|staff|support|customer service)\b|\b(real|live|human|actual) (person|agent|support|human)\b|\bhuman being\b|^\s*(agent|operator|human)\s*[.!?]*$|\b(can|could)\s+(someone|somebody|a person|a human|an agent)\b|"
                                 r"\b(?:i|we)\s+(?:want|need|would like|'d like)\s+(?:to (?:talk|speak) to\s+)?(?:someone|somebody|a person|a human|an agent|a manager|a supervisor|a real person)\b|"
                                 # "can you just pass it to someone who can sort the claim out", "escalate this"
                                 r"\b(?:pass|hand|send|escalate|refer|forward)\w*\s+(?:(?:it|this|that|me|my \w+)\s+)?(?:on\s+|over\s+|up\s+)?to\s+"
                                 r"(?:someone|somebody|a person|a human|an agent|a manager|a supervisor|support|your team|the team|a colleague)\b|"
                                 r"\bescalate (?:it|this|that|my \w+)\b", re.I)),
    # "I cancelled SB-10032 weeks ago and ...": what happened, not a request to cancel
    ("cancel_order", re.compile(r"(?:(?<!\bi )(?<!\bwe )(?<!\balready )(?<!\bi've )(?<!\bi had )\bcancel(?:l?ed)\b|\bcancel(?!l?ed\b)\w*\b).{0,40}\b(order|SB-?\d+|purchase)\b|\b(order|SB-?\d+)\b.{0,30}\bcancel|"
                                # "can you cancel the sleeping bag one as well", "cancel that one then"
                                r"\bcancel\s+(?:the\s+[\w-]+(?:\s+[\w-]+)?\s+one|it|that(?: one)?|this(?: one)?|them|both)\b", re.I)),
    ("return_refund", re.compile(r"\b(return|refund|send (it|them) back)\b.{0,30}\b(SB-?\d+|order \d+)", re.I)),
    # "can it still go back?", "can I send them back?": a return of something bought
    ("return_refund", re.compile(r"\b(?:can|could|may) (?:it|they|this|that|these|those|i|we) (?:still )?(?:go back|be sent back|"
                                 r"send (?:it|them|this|that|these|those) back)\b", re.I)),
    ("change_order", re.compile(r"\b(change|update|modify|correct)\b.{0,30}\b(address|delivery address|shipping address)\b.{0,40}\b(SB-?\d+|order)", re.I)),
    ("order_status", re.compile(r"\b(track|status|where(?:'s| is)|arriv|shipped|deliver)\w*\b.{0,40}\bSB-?\d{4,6}\b|^\s*SB-?\d{4,6}\s*\??$", re.I)),
    # "can you match it?", "do you price match?": the price-match rule, not a product search for the cheaper item
    ("policy_question", re.compile(r"\bprice[\s-]?match\w*|\bmatch (?:it|that|the price|their price|this price|a price)\b|"
                                   r"\b(?:get|refund|pay|give)\w*\b.{0,20}\bthe difference\b", re.I)),
    ("compare", re.compile(r"\b(compare|comparison|difference between|vs\.?|versus)\b", re.I)),
    ("payment", re.compile(r"^\s*(?:do|can|will) you (?:take|accept)\b|\b(?:pay|paying) (?:with|by|using|in instalments)\b|\bpayment (?:methods?|options?)\b", re.I)),
    ("recommendation", re.compile(r"\b(recommend\w*|suggest\w*|for me\b.*\bpicks?|best ?sellers?|trending)\b", re.I)),
    ("chit_chat", re.compile(r"^\s*(?:(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|thanks?(?: you)?(?: so much| a lot)?|thx|ty|"
                             r"bye|goodbye|see you|cheers|ok|okay|cool|great|perfect|awesome|nice|that'?s all|all good)"
                             r"[\s,.!]*)+$", re.I)),
]


def rule_intent(text: str) -> str | None:
    """The intent of an unambiguous message, or None to ask the classifier."""
    for intent, pattern in _RULES:
        if pattern.search(text):
            return intent
    return None


# ---------------------------------------------------------------- classifier


@dataclass
class Labelled:
    text: str
    intent: str


def load_seed(path: Path = SEED_FILE) -> list[Labelled]:
    """The shipped seed utterances (`{"text", "intent"}` per line)."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj["intent"] not in INTENTS:
            raise ValueError(f"{path} line {n}: unknown intent '{obj['intent']}'; expected one of {list(INTENTS)}.")
        rows.append(Labelled(obj["text"], obj["intent"]))
    return rows


_DIALOG_INTENTS = {  # labels the demo dialogs may use -> ours
    "track_order": "order_status", "order_status": "order_status", "cancel_order": "cancel_order",
    "change_order": "change_order", "change_address": "change_order", "change_shipping_address": "change_order",
    "return": "return_refund", "refund": "return_refund", "return_refund": "return_refund", "get_refund": "return_refund",
    "delivery": "delivery", "shipping": "delivery", "payment": "payment", "account": "account",
    "handoff": "human_handoff", "human_handoff": "human_handoff", "contact_human_agent": "human_handoff",
    "policy": "policy_question", "policy_question": "policy_question", "warranty": "policy_question",
}


def dialog_examples(dialogs: Iterable[dict]) -> list[Labelled]:
    """First customer turn of each shop dialog whose intent maps onto ours."""
    out = []
    for d in dialogs:
        intent = d.get("intent", "")
        intent = intent if intent in INTENTS else _DIALOG_INTENTS.get(intent) or BITEXT_TO_INTENT.get(intent)
        if not intent:
            continue
        first = next((m["content"] for m in d.get("messages", []) if m.get("role") == "user"), None)
        if first:
            out.append(Labelled(first, intent))
    return out


def _focus(text: str) -> str:
    """The part of a message that carries the request. A message with personal details in it ("my email is
    ..., do you sell trail shoes?") is classified by its last question, with the details masked; any
    other message as a whole."""
    from assistant.conversation.guardrails import redact_pii
    from text import split_clauses

    masked = redact_pii(text)
    if masked == text:  # no personal details to step over: the whole message is the request
        return text
    clauses = split_clauses(masked)
    if len(clauses) > 1 and clauses[-1].endswith("?") and len(clauses[-1].split()) >= 3:
        return clauses[-1]
    return masked


class IntentRouter:
    """Rules first, then a logistic-regression head on sentence embeddings."""

    def __init__(self, encoder: TextEncoder, classes: list[str], coef: np.ndarray, intercept: np.ndarray):
        self.encoder = encoder
        self.classes = classes
        self.coef = coef  # (C, D)
        self.intercept = intercept  # (C,)

    @classmethod
    def fit(cls, encoder: TextEncoder, examples: Sequence[Labelled], *, cache_dir: Path | None = None) -> IntentRouter:
        """Train (or load from `cache_dir`) a head for `encoder` on `examples`."""
        digest = hashlib.sha256(
            (encoder.name + "\n" + "\n".join(f"{e.intent}\t{e.text}" for e in examples)).encode()
        ).hexdigest()[:16]
        cached = cache_dir / f"intent-router-{digest}.npz" if cache_dir else None
        if cached and cached.exists():
            data = np.load(cached, allow_pickle=False)
            return cls(encoder, [str(c) for c in data["classes"]], data["coef"], data["intercept"])
        from sklearn.linear_model import LogisticRegression

        x = encoder.encode([e.text for e in examples])
        y = [e.intent for e in examples]
        head = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
        head.fit(x, y)
        router = cls(encoder, [str(c) for c in head.classes_], head.coef_.astype(np.float32), head.intercept_.astype(np.float32))
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, classes=np.array(router.classes), coef=router.coef, intercept=router.intercept)
            tmp.replace(cached)
        logger.info("trained intent router on %d examples (%d classes)", len(examples), len(router.classes))
        return router

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """Classifier only (no rules): (intent, probability) per text."""
        if not texts:
            return []
        logits = self.encoder.encode(list(texts)) @ self.coef.T + self.intercept  # (N, C)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        return [(self.classes[i], float(probs[n, i])) for n, i in enumerate(best)]

    def route_many(self, texts: Sequence[str]) -> list[str]:
        """Intents of many texts at once (rules first, one batched embedding pass for the rest)."""
        ruled = [rule_intent(t) for t in texts]
        todo = [i for i, r in enumerate(ruled) if r is None]
        for i, (intent, _) in zip(todo, self.classify([_focus(texts[i]) for i in todo]), strict=True):
            ruled[i] = intent
        return [str(r) for r in ruled]

    def route(self, text: str) -> tuple[str, float, str]:
        """(intent, confidence, source) where source is 'rule' or 'model'."""
        ruled = rule_intent(text)
        if ruled:
            return ruled, 1.0, "rule"
        intent, prob = self.classify([_focus(text)])[0]
        return intent, prob, "model"


# ---------------------------------------------------------------- Bitext (evaluation and optional training)


def is_heldout(text: str, fraction: int = 5) -> bool:
    """Deterministic held-out split: 1 in `fraction` utterances (by text hash) is never trained on."""
    return int(hashlib.md5(text.strip().lower().encode()).hexdigest(), 16) % fraction == 0


def bitext_examples(path: Path) -> list[Labelled]:
    """Labelled utterances from a Bitext CSV (`instruction` or `utterance` column), mapped to our intents."""
    import csv

    out = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            text = row.get("instruction") or row.get("utterance")
            intent = BITEXT_TO_INTENT.get(row.get("intent", ""))
            if text and intent:
                out.append(Labelled(text.strip(), intent))
    return out
