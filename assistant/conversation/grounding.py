"""The grounding checker: every fact in a drafted reply must be backed by this turn's tool results.

A draft is split into sentences. Each sentence's claims are extracted and checked against the
`Evidence` (the products, orders and policy/profile text the tools returned):

* money ("$84.95", "12 dollars") must be an amount the data gives as money (or a number the customer said);
  percentages, durations ("30 days") and any other number must occur in
  the evidence (or in the customer's own message);
* order numbers must be orders in the evidence; order states ("shipped", "cancelled") must be a state
  of the order the sentence is about;
* stock statements ("in stock", "sold out", "only 3 left") must match the product they are about;
* a catalog product or brand named in the reply must be one the tools returned;
* the sentence must be made of the evidence's and the customer's words plus ordinary English glue
  (this removes invented features and the random text of an untrained model).

Unsupported sentences are removed (repair). If what is left no longer says what the turn needed
(`required` phrases, e.g. the order number and its state), the caller falls back to the templated
answer built from the data alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from text import split_sentences  # the draft's sentences: one splitter for replies and product copy

_STOPWORDS = set(
    """a an the and or but if then so of to in on at by for with from as is are was were be been being it its this
    that these those there here i you your yours we our us me my he she they them their his her what which who whom
    whose when where why how can could would should will shall may might must do does did done not no yes all any
    both each few more most other some such only own same than too very just also about into over under again
    further once up down out off above below between through during before after while because until nor let
    have has had having am i'm you're it's that's there's we're they're don't doesn't isn't aren't can't won't
    i'll you'll we'll i've you've please thanks thank sure ok okay happy glad help here's""".split()
)
# Words a shop assistant may use without data behind them (no facts in them).
_CHAT_WORDS = set(
    """hello hi hey welcome great good nice fine choice choices option options pick picks find found look looking
    recommend recommended suggestion suggestions suggest sorry unfortunately anything else today assist assistance
    question questions know tell like love want need needs see show shown below above following listed list
    item items product products order orders ask asked check checked checking currently right now moment
    details detail information info info. price priced cost costs costs. stock available availability
    match matches matching result results search searched searching best top first second third one two three
    customer support team agent human person ticket contact reach shop store website account sign signed
    policy policies according says say said note noted mention mentioned keep mind hope enjoy day
    compare compared comparison difference differs versus
    return returns refund refunds delivery shipping ship ships payment pay cancel cancelled change
    confirm confirmation reply replying yes no""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_MONEY = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:usd|eur|gbp|dollars?|euros?)\b", re.I)
_ORDER = re.compile(r"\bSB-?\d{4,6}\b", re.I)
_STATES = {
    "placed": "placed", "processing": "placed", "shipped": "shipped", "on its way": "shipped", "in transit": "shipped",
    "out for delivery": "shipped", "delivered": "delivered", "cancelled": "cancelled", "canceled": "cancelled",
    "returned": "returned",
}
_STATE_RE = re.compile(r"\b(" + "|".join(re.escape(s) for s in _STATES) + r")\b", re.I)
_IN_STOCK = re.compile(r"\b(in stock|available now|available to order|ready to ship)\b", re.I)
_OUT_STOCK = re.compile(r"\b(out of stock|sold out|unavailable|not available|not in stock|no stock)\b", re.I)
_COMPARATIVE = re.compile(
    r"\b(cheaper|cheapest|less expensive|more expensive|pricier|priciest|most expensive|lighter|lightest|heavier|"
    r"heaviest|warmer|warmest|better|best|bigger|biggest|smaller|smallest|larger|largest|stronger|more durable|"
    r"higher rated|best rated|top rated|more popular|most popular)\b",
    re.I,
)
_META = re.compile(r"\b(the (customer|assistant|user|data|system)|as an ai|language model|<\/?data>)\b", re.I)
_NAME_RUN = re.compile(r"(?:[A-Z][\w'&.-]*|\d[\w.-]*)(?:\s+(?:[A-Z][\w'&.-]*|\d[\w.-]*|&|de|of))+")
_LEADING = {"the", "a", "an", "our", "your", "this", "that", "these", "those", "i", "we", "you", "it", "yes", "no", "here"}
_STOCK_COUNT = re.compile(r"\b(\d+)\s+(?:left|in stock|units?|available|pieces)\b|\bonly\s+(\d+)\b", re.I)


@dataclass
class ProductFact:
    id: str
    title: str
    price: float | None
    currency: str
    stock: int | None
    in_stock: bool | None
    brand: str | None = None


@dataclass
class OrderFact:
    id: str
    status: str
    states: set[str]  # every state in its history


@dataclass
class Evidence:
    """What this turn's tools returned, plus what the customer said (they may repeat their own numbers)."""

    products: list[ProductFact] = field(default_factory=list)
    orders: list[OrderFact] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # policy chunks, profile facts, tool messages
    user_message: str = ""
    catalog_titles: set[str] | frozenset[str] = field(default_factory=set)  # every product title in the shop, lowercase
    catalog_brands: set[str] | frozenset[str] = field(default_factory=set)  # every brand in the shop, lowercase
    strict: bool = False  # every sentence must be backed by one evidence sentence (policy answers)

    def sentences(self) -> list[set[str]]:
        """Content words of each evidence sentence (for checking that a figure keeps its context)."""
        out = []
        for text in [*self.texts, self.user_message, *(f"{p.title} {p.price}" for p in self.products)]:
            for s in re.split(r"(?<=[.!?;])\s+|\n+", text):
                words = _content(s)
                if words:
                    out.append((s.lower(), words))
        return out

    def amounts(self) -> set[float]:
        """The money amounts a reply may state: prices and other sums the data gives as money, and any number the
        customer said ("under 150"). Not every number: a "$30" is not backed by a "30 days"."""
        out = {round(p.price, 2) for p in self.products if p.price is not None} | _numbers(self.user_message)
        for m in _MONEY.finditer(self.blob()):
            out |= _numbers(m.group(0))
        return out

    def blob(self) -> str:
        parts = list(self.texts) + [self.user_message]
        for p in self.products:
            parts.append(f"{p.title} {p.brand or ''} {p.price if p.price is not None else ''} {p.stock if p.stock is not None else ''}")
        for o in self.orders:
            parts.append(f"{o.id} {o.status} {' '.join(o.states)}")
        return " \n".join(parts)


@dataclass
class Verdict:
    """Result of checking one draft."""

    text: str  # the draft with unsupported sentences removed
    dropped: list[tuple[str, str]]  # (sentence, reason)
    covered: bool  # what is left still states every required fact
    leak: bool = False

    @property
    def ok(self) -> bool:
        return self.covered and not self.leak and bool(self.text.strip())


def _content(text: str) -> set[str]:
    return {w.lower().strip("'-").rstrip("s") for w in _WORD.findall(text)} - _STOPWORDS - {""}


_FIGURE = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:%|percent|(?:business |working )?(?:days?|hours?|weeks?|months?|years?))", re.I)


def _backed_in_context(sentence: str, ev: Evidence, figure: str | None) -> bool:
    """Is there one evidence sentence (holding `figure`, if given) that covers >= 60 % of the sentence's words?"""
    words = _content(sentence)
    if not words:
        return True
    needle = _numbers(figure) if figure else None
    for low, source in ev.sentences():
        if needle and not needle <= _numbers(low):
            continue
        if len(words & source) / len(words) >= 0.6:
            return True
    return False


def _numbers(text: str) -> set[float]:
    out = set()
    for m in _NUMBER.finditer(text):
        try:
            out.add(round(float(m.group(0).replace(",", "")), 2))
        except ValueError:
            continue
    return out


def _short(title: str) -> str:
    return title.split(" - ")[0].strip().lower()


def _mentioned(sentence: str, products: list[ProductFact]) -> list[ProductFact]:
    low = sentence.lower()
    return [p for p in products if _short(p.title) in low or p.title.lower() in low]


@lru_cache(maxsize=4)
def _catalog_names(titles: frozenset[str]) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """((title, short title) of each catalog product, the words of the titles), built once per catalog: every
    drafted sentence is checked against the whole catalog, which may hold many thousand products."""
    names = tuple((t, _short(t)) for t in titles)
    return names, frozenset(w for t in titles for w in t.split()) - _CHAT_WORDS - _STOPWORDS


def check_sentence(sentence: str, ev: Evidence, *, numbers: set[float], amounts: set[float], vocab: set[str]) -> str | None:
    """The reason the sentence is unsupported, or None when every claim in it is backed."""
    low = sentence.lower()
    evidence_low = ev.blob().lower()
    catalog_names, title_words = _catalog_names(frozenset(ev.catalog_titles))
    for m in _MONEY.finditer(sentence):
        value = _numbers(m.group(0))
        if not value or not value <= amounts:
            return f"price {m.group(0).strip()} not in the data"
    for n in _numbers(_ORDER.sub(" ", sentence)):
        if n not in numbers:
            return f"number {n:g} not in the data"
    order_ids = {o.id.upper() for o in ev.orders}
    mentioned_orders = []
    for m in _ORDER.finditer(sentence):
        oid = re.sub(r"(?i)sb-?", "SB-", m.group(0)).upper()
        if oid not in order_ids:
            return f"order {oid} not in the data"
        mentioned_orders.append(oid)
    for m in _STATE_RE.finditer(sentence):
        state = _STATES[m.group(1).lower()]
        about = [o for o in ev.orders if o.id.upper() in mentioned_orders] or (ev.orders if len(ev.orders) == 1 else [])
        if about:
            if not any(state == o.status or state in o.states for o in about):
                return f"order state '{m.group(1)}' does not match the order"
        elif m.group(1).lower() not in ev.blob().lower():
            return f"order state '{m.group(1)}' without an order"
    named = _mentioned(sentence, ev.products)
    about_products = named or (ev.products if len(ev.products) == 1 else [])
    # "we match ... an identical item that is in stock at a US retailer": a rule the data says, no product's stock
    quoted_rule = not about_products and _backed_in_context(sentence, ev, None)
    if _IN_STOCK.search(sentence) and not _OUT_STOCK.search(sentence) and not quoted_rule:
        if not about_products or not all(p.in_stock for p in about_products):
            return "in-stock claim not backed"
    if _OUT_STOCK.search(sentence) and not quoted_rule:
        if not about_products or not all(p.in_stock is False for p in about_products):
            return "out-of-stock claim not backed"
    for m in _STOCK_COUNT.finditer(sentence):
        count = int(m.group(1) or m.group(2))
        if about_products and not any(p.stock == count for p in about_products):
            return f"stock count {count} not backed"
    allowed_titles = {p.title.lower() for p in ev.products} | {_short(p.title) for p in ev.products}
    for title, short in catalog_names:
        if short in low and short not in allowed_titles and title not in allowed_titles:
            return f"product '{title}' not in this turn's results"
    allowed_brands = {(p.brand or "").lower() for p in ev.products}
    for brand in ev.catalog_brands:
        if brand and re.search(r"\b" + re.escape(brand) + r"\b", low) and brand not in allowed_brands and brand not in evidence_low:
            return f"brand '{brand}' not in this turn's results"
    figures = [m.group(0) for m in _FIGURE.finditer(sentence)]
    for figure in figures:
        if not _backed_in_context(sentence, ev, figure):
            return f"figure '{figure}' used out of its context"
    if ev.strict and not figures and not _backed_in_context(sentence, ev, None):
        return "not backed by one passage of the source"
    if _META.search(sentence):
        return "talks about the conversation instead of answering"
    for m in _COMPARATIVE.finditer(sentence):
        word = m.group(1).lower()
        if word in {"cheaper", "cheapest", "less expensive"} and len(named) >= 1:
            priced = [p for p in ev.products if p.price is not None]
            if not priced or min(priced, key=lambda p: p.price).id != named[0].id:
                return f"'{word}' claim not backed by the prices"
        elif word in {"more expensive", "pricier", "priciest", "most expensive"} and len(named) >= 1:
            priced = [p for p in ev.products if p.price is not None]
            if not priced or max(priced, key=lambda p: p.price).id != named[0].id:
                return f"'{word}' claim not backed by the prices"
        elif word not in evidence_low:
            return f"comparison '{word}' not in the data"
    for m in _NAME_RUN.finditer(sentence):
        run = m.group(0).split()
        while run and run[0].lower() in _LEADING:
            run = run[1:]
        run_text = " ".join(run).rstrip(".,;:!?")
        names_product = any(w.lower().strip(".,") in title_words for w in run)
        if len(run) >= 2 and names_product and run_text.lower() not in evidence_low:
            return f"name '{run_text}' not in the data"
    for w in _WORD.findall(sentence)[1:]:
        if w[0].isupper() and w.lower().strip("'-") not in vocab and w.lower() not in evidence_low:
            return f"name '{w}' not in the data"
    words = [w.lower().strip("'-") for w in _WORD.findall(sentence)]
    content = [w for w in words if w not in _STOPWORDS]
    if content:
        known = sum(1 for w in content if w in vocab or w.rstrip("s") in vocab)
        if known / len(content) < 0.7:
            return "says things the data does not"
    if not named and len(words) >= 6 and sum(1 for w in words if w in _STOPWORDS) / len(words) < 0.15:
        return "not a sentence"
    if len(words) < 2 and not numbers & _numbers(sentence):
        return "fragment"
    return None


def check(draft: str, ev: Evidence, required: list[list[str]] | None = None, system_prompt: str = "") -> Verdict:
    """Check a draft; drop unsupported sentences; report whether the required facts survive.

    Args:
        draft: the model's reply.
        ev: this turn's evidence.
        required: groups of alternatives; each group needs one member (case-insensitive) in the kept text.
        system_prompt: when given, a reply repeating it is flagged as a leak.
    """
    from assistant.conversation.guardrails import leaks_prompt

    blob = ev.blob()
    numbers = _numbers(blob)
    amounts = ev.amounts()
    vocab = {w.lower().strip("'-") for w in _WORD.findall(blob)} | _CHAT_WORDS | _STOPWORDS
    vocab |= {w.rstrip("s") for w in vocab}
    kept, dropped = [], []
    seen: set[str] = set()
    for sentence in split_sentences(draft):
        key = re.sub(r"\W+", " ", sentence.lower()).strip()
        if key in seen:
            dropped.append((sentence, "repeated"))
            continue
        seen.add(key)
        reason = check_sentence(sentence, ev, numbers=numbers, amounts=amounts, vocab=vocab)
        if reason:
            dropped.append((sentence, reason))
        else:
            kept.append(sentence)
    text = " ".join(kept)
    low = text.lower()
    covered = all(any(alt.lower() in low for alt in group) for group in (required or []))
    covered = covered and any(len(_WORD.findall(k)) >= 4 for k in kept)  # at least one real sentence
    leak = bool(system_prompt) and leaks_prompt(draft, system_prompt)
    return Verdict(text=text, dropped=dropped, covered=covered and bool(kept), leak=leak)
