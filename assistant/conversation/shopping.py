"""The shopping steps of a turn: search and its refinements, questions about shown products (details, an
attribute, yes/no on a size or colour, "which is the lightest"), comparison, recommendations and the cart.

Every fact in a reply comes from the catalog records; the lead line says what was understood ("4 sleeping
pads under $70 in blue"), never the shopper's message back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.conversation.contract import Event, ProductCard
from assistant.conversation.guardrails import fence
from assistant.conversation.intents import ProductRef, Slots
from assistant.conversation.state import DialogueState, ProductRequest
from assistant.conversation.turn import Deps, Step, fact, money, short, stock_phrase
from assistant.tools.cart import choose_variant
from assistant.tools.products import ProductFacts, availability, compare
from assistant.tools.recommend import recommend
from prompts.loader import render
from retrieval.attributes import Sort, value_of
from retrieval.catalog import Product
from retrieval.query import COLOURS

SHOWN = 5  # products a list answer shows

# Questions about one attribute of the product in focus -> the dimension they ask about.
_ASKED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(weigh\w*|weight|how heavy|how light)\b", re.I), "weight"),
    (re.compile(r"\b(how warm|temperature|comfort rating|rated (?:to|for)|degrees)\b", re.I), "warmth"),
    (re.compile(r"\b(how bright|lumens|brightness)\b", re.I), "brightness"),
    (re.compile(r"\b(how many (?:people|persons)|sleeps? how many|how many does it sleep|capacity|how big|how much room|"
                r"volume|how many (?:litres|liters))\b", re.I), "capacity"),
    (re.compile(r"\b(runtime|battery life|how long does (?:it|the battery) last)\b", re.I), "runtime"),
    (re.compile(r"\b(warranty|guarantee)\b", re.I), "warranty"),
]
_VERBS = {"weight": "weighs", "warmth": "is", "brightness": "gives", "runtime": "runs", "warranty": "has a warranty of"}
_YES_NO = re.compile(r"^\s*(?:(?:hey|hi|hello|ok(?:ay)?|so|um+|hmm+|quick q(?:uestion)?)[\s,]+)*"
                     r"(?:does|do|is|are|can i (?:\w+ )?(?:get|have|buy)|have you got|got|any chance|is there|are there)\b|"
                     r"\bor (?:is|are) (?:it|that|they|those|this) (?:sold out|out of stock)\b|"
                     # "and the first one, have you got that in orange at all"
                     r"\b(?:have you got|do you have|have you) (?:it|that|this|them|those|one|any)\b(?! (?:for|to)\b)|"
                     r"\bdo you (?:\w+ )?(?:have|stock|carry|sell)\b[^.!?]*\?|"  # "before I get my hopes up - do you actually have ... ?"
                     # the question mark may end a sentence before more words: "in stock in M/L? my torso is 50 cm"
                     r"\b(?:come|comes|available|avail|in stock|left|have (?:it|them|one|that))\b[^.!?]*\?|"
                     r"\b(?:ok|okay|fine|possible|doable)\s*\?", re.I)  # "size 9 ok? 1st one", "blue ok?"
_STOCK_Q = re.compile(r"\b(in stock|available|availability|sold out|have (?:it|any|one)|left)\b", re.I)
# "actually, remove it", "ok and how long ...?", "thanks. also ...": openings that do not change the request
OPENING = (r"^\s*(?:(?:actually|ok(?:ay)?|oh|hmm+|wait|no|nah|nope|yes|yeah|yep|please|then|and|also|plus|so|um+|well|great|cool|"
           r"perfect|nice|right|thanks|thank you)[\s,.!]+)*")
# The opening of a short follow-up that names only a size: "and in L?", "ok what about a 9?", "how about an 8"
_FOLLOW_UP = OPENING + r"(?:(?:wh?at|how)\s+about\s+)?(?:(?:an?|the)\s+|in\s+(?:an?\s+)?)?"
_SIZE_SAID = re.compile(rf"(?:\bin (?:an? )?|\bsize\s*|{_FOLLOW_UP})(\d{{1,2}}(?:\.5)?|xxs|xs|s|m|l|xl|xxl|xxxl)\b"
                        r"(?=\s*(?:then|instead|please|too)?\s*\??\s*$|\s)", re.I)

_REF = r"(?:it|that|this|them|these|those|one|the \w+(?: one)?|(?:number|no\.?|#)\s?\d{1,2})"
_QTY_SAID = r"(?:\d{1,2}|a|an|one|two|three|four|five|a couple|a pair)"
# where a request can begin: the message's start, or a new clause ("ooh the second one is nice, add that in queen")
_CLAUSE_START = rf"(?:{OPENING}|[,;.!]\s+(?:(?:and|so|then)\s+)?)"
_CART_ADD = re.compile(r"\b(add|put|throw|pop|place)\b.{0,60}\b(cart|basket|trolley|bag)\b|"
                       rf"\b(?:i'?ll|i will|let me|i'?d like to|i want to) (?:take|buy|get|grab|order|have)(?: {_QTY_SAID} of)? {_REF}\b|"
                       rf"(?<!if )(?<!when )\bi (?:take|buy|order)(?: {_QTY_SAID} of)? {_REF}\b(?![^.?!]*\?)|"  # "ok i take the first one", not "i take it you ...?"
                       r"^\s*(?:ok(?:ay)?,? )?i(?:'ll| will)? (?:want|choose|go (?:for|with)) the (?:first|second|third|fourth|fifth|last|\d(?:st|nd|rd|th)) one\s*[.!]?\s*$|"
                       # "the first one please, in Sunflower": a choice from the list
                       r"^\s*(?:ok(?:ay)?,? |yes,? )?(?:the )?(?:first|second|third|fourth|fifth|last|\d(?:st|nd|rd|th)) one"
                       r"(?: of (?:those|these|them))?,? (?:please|pls|plz)\b(?![^.?!]*\?)|"
                       # "1st one in Orange, basket pls", "that one to cart": a choice, then where it goes (no question)
                       r"^(?!\s*(?:is|are|what|what'?s|whats|did|do|does|has|have|was|where|how|can|could)\b)[^?]*?"
                       rf"(?:\b(?:first|second|third|fourth|fifth|last|\d(?:st|nd|rd|th))\s+one|{_REF})\b[^?]{{0,40}}?[\s,]"
                       r"(?:(?:in(?:to)?|to)\s+(?:the\s+|my\s+)?)?(?:cart|basket|trolley)\s*(?:please|pls|plz|thanks|ta)?\s*[.!]*\s*$|"
                       # "add the second one", "ooh the second one is nice, add that in queen"
                       rf"{_CLAUSE_START}add (?:{_QTY_SAID} (?:of )?)?(?:{_REF}|\d+)\b|"
                       # "chuck 2 of the first one in my cart": whatever the verb, into the cart
                       rf"\b{_REF} (?:in|into|to|onto) (?:my|the|our) (?:cart|basket|trolley)\b|"
                       # "plus one of that second mug", "2 of the first one": a quantity of a listed product
                       rf"{OPENING}(?:i'?ll (?:take|have) )?{_QTY_SAID} (?:more )?of {_REF}\b(?![^.?!]*\b(?:is|are|was|were|has|have|does|do|did|looks?|seems?|comes?|fits?)\b)|"
                       # "add one more of the same", "another of those please": the same product again
                       r"\badd (?:one|another|\d) more\b|\b(?:one|two|\d|another) more of (?:the same|that|those|these|it|them)\b|"
                       r"\banother (?:one )?of (?:the same|those|these|that|them)\b(?![^.?!]*\?)", re.I)
_SAME = re.compile(r"\b(?:of the same|the same (?:one|again|thing)|same again|another of (?:those|these|them|that))\b", re.I)
_CART_CLEAR = re.compile(r"\b(?:empty|clear|reset)\b.{0,12}\b(?:cart|basket|trolley)\b|\b(?:remove|delete) (?:everything|all)\b", re.I)
_CART_REMOVE = re.compile(r"\b(remove|delete|take out|drop|take off|get rid of|ditch|scrap|bin)\b.{0,60}\b(cart|basket|trolley|bag)\b|"
                          r"\btake\b.{0,30}\bout\b.{0,12}\b(?:cart|basket|trolley)\b|"  # "please take it out from cart"
                          r"\b(?:empty|clear|reset)\b.{0,12}\b(?:cart|basket|trolley)\b|"
                          rf"{OPENING}(?:remove|delete|take out|drop) {_REF}\b|"
                          # "meh changed my mind, ditch the bottle"
                          rf"{OPENING}(?:[\w']+[\s,]+){{0,5}}?(?:remove|delete|ditch|bin) {_REF}\b(?! off\b)|"
                          rf"{OPENING}(?:take|put) {_REF} (?:out|back)\b(?! (?:of|to) (?:the )?(?:store|shop|post))|"
                          # "take the first ones back out", "take that one out again"
                          rf"{_CLAUSE_START}take {_REF}(?:s| ones?)?(?: back)? out\b|"
                          # "..., take one of them back out", "remove one of those"
                          r"\b(?:remove|drop) (?:one|two|\d) of (?:them|those|these|the \w+)\b(?![^.?!]*\?)|"
                          r"\btake (?:one|two|\d) of (?:them|those|these|the \w+) (?:back )?(?:out|off)\b(?![^.?!]*\?)", re.I)
_CART_VIEW = re.compile(r"\b(what'?s|what is|show|view|see|check|open|look at|how much is|how much's|total)\b.{0,20}\b(cart|basket|trolley)\b|"
                        r"\bwhat (?:do|did) i (?:have|put) in\b.{0,12}\b(?:cart|basket|trolley)\b|"
                        r"\b(?:anything|something|what)\b.{0,25}\b(?:in|inside) (?:my|the) (?:cart|basket|trolley)\b(?![^.!?]*\b(?:add|put)\b)|"
                        r"^\s*(?:my )?(?:cart|basket)\s*\??\s*$|"
                        r"\b(?:my|the) (?:cart|basket|trolley) (?:is|'s) (?:empty|now)\b[^.!]*\?|"  # "so now my cart is empty, yes?"
                        # "what does that come to altogether", "what's my total", "how much is that all together"
                        r"\bwhat (?:does|do|would) (?:that|it|they|those|this|everything|all that) (?:all )?(?:come|add up) to\b|"
                        r"\bwhat(?:'s| is) (?:the|my) (?:total|grand total)\b|"
                        r"\bhow much (?:is|does|would) (?:that|it|everything|all that) (?:be |come to )?(?:altogether|all together|in total)\b", re.I)
# Letter sizes in words ("in large", "a medium"): read against the product's own sizes
SIZE_WORDS = {"extra extra large": "XXL", "xx-large": "XXL", "extra large": "XL", "x-large": "XL", "extra small": "XS",
               "x-small": "XS", "small": "S", "medium": "M", "large": "L"}
_QTY_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "a couple of": 2, "a pair of": 2}


def cart_intent(message: str) -> str | None:
    """"add_to_cart", "remove_from_cart", "view_cart" or None."""
    if _CART_REMOVE.search(message):
        return "remove_from_cart"
    if _CART_VIEW.search(message):
        return "view_cart"
    if _CART_ADD.search(message):
        return "add_to_cart"
    return None


# ---------------------------------------------------------------- search


def search(d: Deps, step: Step, state: DialogueState, request: ProductRequest, changed: str) -> Step:
    """Products for the active request: its constraints are hard, its type keeps the topic, in-stock first."""
    f = request.filters
    if request.leaves and f.attributes:  # "insulated" names bottles' attribute, not a condition on jackets
        kind = products_of(d, request.leaves)
        f = f.model_copy(update={"attributes": [c for c in f.attributes if _applies(c, kind)]})
        request.filters = f
    hard = f.model_copy(update={"categories": [], "sort": None, "price_around": None})
    query = request.text or request.type_words
    products, reasons = _find(d, query, hard, request)
    what = request.describe() if request.type_words or request.leaves else "some options"
    common = set(request.leaves).intersection(*(set(p.category) for p in products[:SHOWN])) if products else set()
    if len(request.leaves) > 1 and len(common) == 1:  # "a sleeping mat": of the two "sleeping" kinds, the one found
        what = request.model_copy(update={"leaves": sorted(common)}).describe()
    lead = render("reply_products_lead", what=what).strip()
    if not products:
        # nothing meets every constraint: say so, and show the closest of the type, cheapest first on a budget
        relaxed = f.model_copy(update={"categories": [], "sort": None, "price_around": None, "price_min": None,
                                       "price_max": None, "attributes": [a for a in f.attributes if a.op == "is"]})
        products, reasons = _find(d, query, relaxed, request)
        if f.price_max is not None:
            products.sort(key=lambda p: (value_of(p, "price") is None, value_of(p, "price") or 0))
        if not products:
            step.template = render("reply_no_products", what=request.describe())
            state.shown, state.focus = [], None
            return step
        lead = render("reply_products_none", what=request.describe(), type=_type_name(request)).strip()
    elif f.price_around is not None and f.price_max is not None:
        lead = lead.rstrip(":") + f" (up to {money(f.price_max, f.currency or products[0].currency)}):"
    if products and f.sort is not None:
        lead = lead.rstrip(":") + f", {f.sort.phrase} first:"
    budget = f.price_around or f.price_max or f.price_min
    if products and budget is not None and f.currency and f.currency != products[0].currency:
        # "fifty quid" in a dollar shop: no exchange rate here, so say how the budget was read
        read = render("reply_budget_read", currency=products[0].currency, budget=money(budget, products[0].currency))
        lead = lead.rstrip(":") + f" {read.strip()}:"
    shown = products[:SHOWN]
    _show(step, state, shown, reasons)
    lines = _lines(shown, reasons)
    step.template = lead + "\n" + lines
    step.listing = lines
    step.data = fence(_data_products(shown[:3], reasons))
    step.task = "task_products"
    step.required = [[short(p.title) for p in shown[:3]]]
    step.evidence.texts.append(request.describe())
    return step


def _applies(c, kind: list[Product]) -> bool:
    """A condition fits products of this type when some of them state the attribute; a catalog word must also
    narrow them ("quilt" among bedding) without excluding all (a misread word)."""
    stating = [p for p in kind if c.attribute in p.attributes]
    if len(stating) < min(2, len(kind)):
        return False
    if c.op == "==" and isinstance(c.value, str):
        fits = sum(bool(c.check(p)) for p in stating)
        return 0 < fits < len(kind)
    return True


def _find(d: Deps, query: str, filters, request: ProductRequest) -> tuple[list[Product], dict[str, str]]:
    result = d.searcher.search(query, k=40, filters=filters)
    hits = [h for h in result.hits if not request.leaves or set(h.product.category) & set(request.leaves)]
    products = [h.product for h in hits]
    reasons = {h.product.id: _reason(d, h.product, request, h.reason) for h in hits}
    word = request.type_words.split()[-1] if request.type_words else ""
    named = [p for p in products if word and re.search(rf"\b{re.escape(word)}", p.title.lower())]
    if len(named) >= 2 and (request.filters.sort is not None or not d.types.is_named(request.type_words)):
        # "the brightest headlamp": among headlamps, not the lanterns of the same category; "a kettle" (a word of
        # titles, not the catalog's own category or type): kettles, not the saucepans the same leaf holds
        products = named
    if request.filters.sort is not None:
        products = d.schema.order(products, request.filters.sort)
    if request.filters.in_stock:
        products = [p for p in products if p.in_stock]
    products = [p for p in products if p.in_stock is not False] + [p for p in products if p.in_stock is False]
    f = request.filters
    if f.colours or f.sizes:  # "in blue" means a blue one to buy: only those, unless none is in stock in blue
        products = [p for p in products if _variant_in_stock(p, f.sizes, f.colours)] or products
    return products, reasons


def _variant_in_stock(p: Product, sizes: list[str], colours: list[str]) -> bool:
    if not p.variants:
        return p.in_stock is not False
    return any(v.stock > 0 and (not sizes or (v.size or "").lower() in {s.lower() for s in sizes})
               and (not colours or any(c.lower() in (v.colour or "").lower() for c in colours)) for v in p.variants)


def _reason(d: Deps, p: Product, request: ProductRequest, attributes: str) -> str:
    """Why this product, in the shopper's terms: the attributes the request is about, its size and colour."""
    # an attribute word the title already says ("type: quilt" for a quilt) tells the shopper nothing
    title = p.title.lower()
    said = [c for c in request.filters.attributes if not (c.op == "==" and str(c.value).lower() in title)
            and not (c.op == "is" and c.attribute.replace("_", " ") in title)]
    bits = [d.schema.reason(p, said, request.filters.sort)]
    f = request.filters
    for size in f.sizes:
        have = [v for v in p.variants if (v.size or "").lower() == size.lower()]
        if have:
            bits.append(f"size {size} " + ("in stock" if any(v.stock > 0 for v in have) else "sold out"))
    for colour in f.colours:
        if any(colour.lower() in c.lower() for c in p.colours):
            name = next(c for c in p.colours if colour.lower() in c.lower())
            bits.append(name if _variant_in_stock(p, f.sizes, [colour]) else f"{name} sold out")
    return " · ".join(b for b in bits if b)


def _type_name(request: ProductRequest) -> str:
    words = request.type_words or (request.leaves[0].lower() if request.leaves else "products")
    return words if words.endswith("s") else words + "s"


def _show(step: Step, state: DialogueState, products: list[Product], reasons: dict[str, str]) -> None:
    step.cards = [ProductCard.of(p, reasons.get(p.id, "")) for p in products]
    step.evidence.products = [fact(p) for p in products]
    state.shown = [p.id for p in products]
    state.focus = products[0].id if products else None


def _lines(products: list[Product], reasons: dict[str, str] | None = None) -> str:
    lines = []
    for i, p in enumerate(products, 1):
        parts = [money(p.price, p.currency)]
        if reasons and reasons.get(p.id):
            parts.append(reasons[p.id])
        line = f"{i}. {p.title}: {' · '.join(parts)}"
        if p.in_stock is False:
            line += " (out of stock)"
        lines.append(line)
    return "\n".join(lines)


def _data_products(products: list[Product], reasons: dict[str, str] | None = None) -> str:
    rows = []
    for i, p in enumerate(products, 1):
        f = ProductFacts.of(p)
        row = f"[{i}] name: {p.title}; price: {money(p.price, p.currency)}"
        stock = stock_phrase(p)
        if stock:
            row += f"; {stock}"
        if f.rating is not None:
            row += f"; rating: {f.rating}/5"
        if reasons and reasons.get(p.id):
            row += f"; why: {reasons[p.id]}"
        rows.append(row)
    return "\n".join(rows)


# ---------------------------------------------------------------- questions about shown products


def shown_products(d: Deps, state: DialogueState) -> list[Product]:
    return [d.catalog[i] for i in state.shown if i in d.catalog]


def products_of(d: Deps, leaves: Iterable[str]) -> list[Product]:
    """The catalog's products in any of these leaf categories (a request's kind)."""
    wanted = set(leaves)
    return [p for p in d.catalog.values() if set(p.category) & wanted]


def resolve(d: Deps, refs: list[ProductRef], state: DialogueState) -> list[Product]:
    """Products referred to as "the second one", "the cheaper boots", "that jacket"."""
    shown = shown_products(d, state)
    picked: list[Product] = []
    for ref in refs:
        pool = shown
        if ref.noun:
            stem = ref.noun.rstrip("s")
            pool = [p for p in shown if stem in p.title.lower() or any(stem in c.lower() for c in p.category)] or shown
        choice = None
        if ref.index is not None and pool:
            if -len(pool) <= ref.index < len(pool):
                choice = pool[ref.index]
        elif ref.comparative and pool:
            priced = [p for p in pool if p.price is not None]
            if ref.comparative.startswith("cheap") and priced:
                choice = min(priced, key=lambda p: p.price)
            elif ref.comparative in {"expensive", "more expensive", "pricier", "priciest", "most expensive"} and priced:
                choice = max(priced, key=lambda p: p.price)
            elif "rated" in ref.comparative:
                choice = max(pool, key=lambda p: p.rating or 0)
        elif pool:
            choice = next((p for p in pool if p.id == state.focus), pool[0]) if not ref.noun else pool[0]
        if choice is not None and choice not in picked:
            picked.append(choice)
    return picked


def pick(d: Deps, step: Step, state: DialogueState, sort: Sort) -> Step | None:
    """"Which of those is the lightest?": the best of the shown products on that dimension, or None when the
    shown products do not state it."""
    shown = shown_products(d, state)
    name = d.schema.dimension_attribute(sort.dimension, shown) if shown else None
    if name is None:
        return None
    best = d.schema.order(shown, sort)[0]
    value = value_of(best, name)
    said = money(value, best.currency) if name == "price" else f"rated {value}/5" if name == "rating" else d.schema.describe(name, value)
    # "weighs the least" is a verb phrase: "the one that weighs the least"
    phrase = f"one that {sort.phrase}" if re.match(r"(?:weighs|holds|fits|lasts|runs|has|gives|keeps)\b", sort.phrase) else sort.phrase
    step.template = render("reply_pick", phrase=phrase, title=best.title, value=said).strip()
    step.cards = [ProductCard.of(best, said)]
    step.evidence.products = [fact(best)]
    step.evidence.texts.append(f"{best.title} {said}")
    state.focus = best.id
    return step


def asked_dimension(message: str) -> str | None:
    for pattern, dimension in _ASKED:
        if pattern.search(message):
            return dimension
    return None


def is_yes_no(message: str) -> bool:
    return bool(_YES_NO.search(message))


def asks_stock(message: str) -> bool:
    """"in stock?", "any left?": a question whether a product can be had."""
    return bool(_STOCK_Q.search(message))


# Names of sizes said as "<name> size" ("king size"), for products that lack them
_SIZE_NAMES = ("king", "queen", "twin", "double", "single", "regular", "long", "short", "wide", "petite", "tall")


def wanted_variant(message: str, product: Product | None, slots: Slots) -> tuple[str | None, str | None]:
    """(size, colour) a message names, read against the product's own sizes and colours."""
    lowered = message.lower()
    size = slots.size
    colour = None
    if product is not None:
        for c in sorted(product.colours, key=len, reverse=True):
            if re.search(rf"\b{re.escape(c.lower())}\b", lowered):
                colour = c
                break
        if size is None:
            for s in sorted(product.sizes, key=len, reverse=True):
                # "in a 9", "in a women's 8", "size 9", "and a 9?", "the wide version"
                if re.search(rf"(?:\bin (?:an? )?(?:(?:wo)?men'?s |kids'? |uk |us |eu )?|\bsize\s*|{_FOLLOW_UP}){re.escape(s.lower())}\b(?![.,]\d)", lowered) \
                        or re.search(rf"\bthe {re.escape(s.lower())} (?:version|one|size|model)\b", lowered) \
                        or re.search(rf"\b{re.escape(s.lower())}[- ]?size\b", lowered):  # "two of them, king size"
                    size = s
                    break
    if size is None:
        for word, letter in SIZE_WORDS.items():  # longest first
            if re.search(rf"(?:\bin (?:an? |the )?|\bsize\s*|{_FOLLOW_UP}){word}\b", lowered):
                size = letter
                break
    named = re.search(rf"\b({'|'.join(_SIZE_NAMES)})[- ]?size(?:d)?\b", lowered) if size is None else None
    if named:  # "king size" for a pillow sold in Standard only: a size it does not have (the answer is then no)
        size = named.group(1).capitalize()
    # a size the product may not have: "in a 13" (the answer is then no); for a product sold in no sizes at all a
    # number is a quantity ("4 of the top one")
    if size is None and (product is None or product.sizes):
        m = _SIZE_SAID.search(message)
        if m:
            size = m.group(1).upper() if m.group(1).isalpha() else m.group(1)
    if colour is None:
        colour = next((w.capitalize() for w in re.findall(r"[a-z]+", lowered) if w in COLOURS), None)
    return size, colour


def details(d: Deps, step: Step, state: DialogueState, message: str, slots: Slots, searched: list[Product] | None = None,
            yes_no: bool = False) -> Step:
    """The product asked about: an attribute, a yes/no on a size or colour (or a follow-up "and in L?" when
    `yes_no`), whether it is in stock, or its facts."""
    products = resolve(d, slots.refs, state) if slots.refs else []
    if not products and state.focus in d.catalog:
        products = [d.catalog[state.focus]]
    if not products and searched:
        products = searched[:1]
    if not products:
        step.template = render("reply_need_products")
        return step
    p = products[0]
    step.cards = [ProductCard.of(x) for x in products]
    step.evidence.products = [fact(x) for x in products]
    state.focus = p.id
    if p.id not in state.shown:
        state.shown = [x.id for x in products]
    size, colour = wanted_variant(message, p, slots)
    asks = yes_no or is_yes_no(message)
    if len(products) == 1 and asks and (size or colour or _STOCK_Q.search(message)):
        yes, sentence = availability(p, size, colour)
        state.variant = {"product_id": p.id, "size": size, "colour": colour} if yes and (size or colour) else {}
        step.template = sentence
        step.evidence.texts.append(sentence)
        return step
    dimension = asked_dimension(message)
    if len(products) == 1 and dimension is not None:
        name = d.schema.dimension_attribute(dimension, [p])
        if name is not None:
            said = d.schema.describe(name, value_of(p, name))
            verb = _VERBS.get(dimension, "has")
            if dimension == "capacity" and said.startswith("sleeps"):
                verb, said = "", said
            step.template = f"{short(p.title)} {verb + ' ' if verb else ''}{said}.".replace("  ", " ")
            step.evidence.texts.append(step.template)
            return step
    lines, data = [], []
    for x in products:
        f = ProductFacts.of(x)
        facts = [f"{x.title} costs {money(x.price, x.currency)}"]
        stock = stock_phrase(x)
        if stock:
            facts[0] += f" and is {stock}"
        facts[0] += "."
        if f.sizes:
            facts.append(f"Sizes: {', '.join(f.sizes)}.")
        if f.colours:
            facts.append(f"Colours: {', '.join(f.colours)}.")
        if f.rating is not None:
            facts.append(f"Rated {f.rating}/5" + (f" by {x.rating_count} customers." if x.rating_count else "."))
        if f.highlights:
            facts.append("Highlights: " + "; ".join(f.highlights[:3]) + ".")
        lines.append(" ".join(facts))
        data.append(" ".join(facts) + " " + fence(x.description, 400))
        step.evidence.texts.append(" ".join(facts) + " " + x.description + " " + " ".join(x.bullets) + " " + str(x.attributes))
    step.template = render("reply_product_details", lines="\n".join(lines))
    step.data = "\n".join(data)
    step.task = "task_product_question"
    step.required = [[short(x.title) for x in products]]
    return step


def compare_shown(d: Deps, step: Step, state: DialogueState, slots: Slots, searched: list[Product],
                  sort: Sort | None = None) -> Step:
    """Two or more products side by side; with a comparative ("which is lighter"), which one wins on it."""
    products = resolve(d, slots.refs, state) if len(slots.refs) >= 2 else []
    if len(products) < 2:
        products = shown_products(d, state)[:2]
    if len(products) < 2:
        products = searched[:2]
    if len(products) < 2:
        step.template = render("reply_need_products")
        return step
    result = compare(products)
    step.cards = [ProductCard.of(p) for p in products]
    step.evidence.products = [fact(p) for p in products]
    lines = []
    for f in result.products:
        bits = [money(f.price, f.currency)]
        if f.in_stock is not None:
            bits.append("in stock" if f.in_stock else "out of stock")
        if f.rating is not None:
            bits.append(f"rated {f.rating}/5")
        lines.append(f"- {f.title}: {', '.join(bits)}")
    by_id = {f.id: f for f in result.products}
    name = d.schema.dimension_attribute(sort.dimension, products) if sort is not None else None
    if name is not None and name not in ("price", "rating"):
        best = d.schema.order(products, sort)[0]
        lines.append(f"The {sort.phrase} one is {best.title} ({d.schema.describe(name, value_of(best, name))}).")
        state.focus = best.id
    if result.cheapest:
        lines.append(f"The cheaper one is {by_id[result.cheapest].title}.")
    if result.best_rated:
        lines.append(f"The best rated is {by_id[result.best_rated].title}.")
    step.template = render("reply_compare", lines="\n".join(lines))
    step.listing = "\n".join(lines)
    step.data = fence(_data_products(products))
    step.task = "task_compare"
    step.required = [[short(products[0].title)], [short(products[1].title)]]
    return step


_GOES_WITH = re.compile(r"\b(go(?:es)? (?:well )?with|to go with|pair(?:s|ed)? with|match(?:es)?|complement\w*|accessor\w*|"
                        r"along with|add to (?:it|that|this)|with (?:it|that|this|them)|what else)\b", re.I)


def recommendation_context(d: Deps, state: DialogueState, message: str) -> dict:
    """RecsContext fields from the dialogue: after an add to cart, or for "something to go with it", the product in
    focus is what to complement (other kinds of product, not more of the same); otherwise the active request's
    category and budget narrow the list."""
    focus = d.catalog.get(state.focus or "")
    if focus is not None and (state.topic == "cart" or _GOES_WITH.search(message)):
        return {"goes_with": [focus.id], "exclude": [focus.id]}
    context: dict = {}
    request = state.request
    if request is not None:
        if request.leaves:
            context["category"] = request.leaves[0]
        if request.filters.price_max is not None:
            context["max_price"] = request.filters.price_max
        if request.filters.price_min is not None:
            context["min_price"] = request.filters.price_min
    return context


def recommend_for(d: Deps, step: Step, state: DialogueState, message: str, user_id: str | None) -> Step:
    context = recommendation_context(d, state, message)
    out = recommend(d.recommender, d.searcher, user_id, message, k=4, context=context)
    if not out.products and "category" in context:  # nothing in stock in that category: the unconstrained list
        out = recommend(d.recommender, d.searcher, user_id, message, k=4)
    _show(step, state, out.products, out.reasons)
    if not out.products:
        step.template = render("reply_no_products", what="recommendations")
        return step
    lines = []
    for i, p in enumerate(out.products, 1):
        reason = out.reasons.get(p.id)
        lines.append(f"{i}. {p.title}: {money(p.price, p.currency)}" + (f" ({reason})" if reason else ""))
        if reason:
            step.evidence.texts.append(reason)
    step.template = render("reply_recommend", lines="\n".join(lines))
    step.listing = "\n".join(lines)
    step.data = fence(_data_products(out.products[:3], out.reasons))
    step.task = "task_products"
    step.required = [[short(p.title) for p in out.products[:3]]]
    return step


# ---------------------------------------------------------------- cart


def _quantity(message: str, slots: Slots) -> int:
    if slots.quantity:
        return slots.quantity
    m = re.search(r"\b(a couple of|a pair of|two|three|four|five|\d{1,2})\s+(?:of\b|x\b|pairs?|units?|pieces?|more\b)",
                  message, re.I)
    if m:
        word = m.group(1).lower()
        return int(word) if word.isdigit() else _QTY_WORDS.get(word, 1)
    return 1


def cart_add(d: Deps, step: Step, state: DialogueState, session_id: str, message: str, slots: Slots,
             product: Product | None = None, quantity: int | None = None) -> Step:
    """Add the product referred to; ask for a size or colour it needs; the action event tells the shop's page."""
    last = (d.carts.get(session_id).lines or [None])[-1]
    same = last if last is not None and last.product_id in d.catalog and not slots.refs and _SAME.search(message) else None
    if product is None and same is not None:  # "add one more of the same": the last line again, same size and colour
        product = d.catalog[same.product_id]
    if product is None:
        refs = resolve(d, slots.refs, state) if slots.refs else []
        product = refs[0] if refs else d.catalog.get(state.focus or "") or (shown_products(d, state) or [None])[0]
    if product is None:
        step.template = render("reply_need_products")
        return step
    quantity = quantity or _quantity(message, slots)
    size, colour = wanted_variant(message, product, slots)
    pending = state.pending or {}
    if same is not None and same.product_id == product.id:
        size, colour = size or same.size, colour or same.colour
    for known in (pending if pending.get("action") == "add_to_cart" else {}, state.variant):
        if known.get("product_id") == product.id:  # a choice made earlier in the conversation still counts
            size, colour = size or known.get("size"), colour or known.get("colour")
    choice = choose_variant(product, size, colour, quantity)
    step.cards = [ProductCard.of(product)]
    step.evidence.products = [fact(product)]
    state.focus = product.id
    if choice.line is None:
        if choice.ask:
            state.pending = {"action": "add_to_cart", "product_id": product.id, "quantity": quantity, "size": size, "colour": colour}
            step.template = render("reply_cart_choose", problem=(choice.problem + ". ") if choice.problem else "",
                                   choice=choice.ask, title=short(product.title), options=", ".join(choice.options)).strip()
        else:
            step.template = choice.problem + "."
        step.events.append(Event(type="action", data={"action": "add_to_cart", "status": "needs_choice" if choice.ask else "refused",
                                                      "product_id": product.id, "choice": choice.ask, "options": choice.options}))
        return step
    state.pending = None
    cart = d.carts.add(session_id, choice.line)
    line = choice.line
    variant = ", ".join(x for x in (f"size {line.size}" if line.size else "", line.colour or "") if x)
    step.events.append(Event(type="action", data={"action": "add_to_cart", "status": "done", "product_id": product.id,
                                                  "sku": line.sku, "quantity": line.quantity, "cart_count": cart.count,
                                                  "cart_total": cart.total}))
    step.template = render("reply_cart_added", quantity=line.quantity, title=product.title,
                           variant=f" ({variant})" if variant else "", count=cart.count,
                           total=money(cart.total, line.currency)).strip()
    if line.quantity < quantity:  # the variant has fewer units than asked
        step.template = f"Only {line.quantity} {'is' if line.quantity == 1 else 'are'} in stock. " + step.template
    step.evidence.texts.append(step.template)
    return step


def _nothing_removed(step: Step, product: Product, cart) -> Step:
    """A removal of a product that is not in the cart: the event says so, with the cart as it stands."""
    step.events.append(Event(type="action", data={"action": "remove_from_cart", "status": "refused", "product_id": product.id,
                                                  "title": product.title, "cart_count": cart.count, "cart_total": cart.total}))
    step.evidence.texts.append(step.template)
    return step


def cart_remove(d: Deps, step: Step, state: DialogueState, session_id: str, message: str, slots: Slots) -> Step:
    cart = d.carts.get(session_id)
    pending = state.pending or {}
    waiting = pending.get("product_id") if pending.get("action") == "add_to_cart" else None
    if waiting:
        state.pending = None  # a removal answers no question about a size or colour
    if waiting in d.catalog and not slots.refs and not any(ln.product_id == waiting for ln in cart.lines) and (
            not cart.lines or re.search(r"\b(it|that|this)\b", message, re.I)):
        # "take it out" while an add still waits for a size or colour: the add is dropped, nothing else goes
        step.template = render("reply_cart_add_dropped", title=d.catalog[waiting].title).strip()
        if cart.lines:
            step.template += " " + render("reply_cart_summary", count=cart.count, total=money(cart.total, cart.lines[0].currency)).strip()
        return _nothing_removed(step, d.catalog[waiting], cart)
    if not cart.lines:
        step.template = render("reply_cart_empty").strip()
        return step
    lowered = message.lower()
    if _CART_CLEAR.search(message):  # "empty my cart": every line goes
        lines = list(cart.lines)
        step.cards = [ProductCard.of(d.catalog[ln.product_id]) for ln in lines if ln.product_id in d.catalog]
        for ln in lines:
            after = d.carts.remove(session_id, ln.sku, None)
            step.events.append(Event(type="action", data={"action": "remove_from_cart", "status": "done", "product_id": ln.product_id,
                                                          "sku": ln.sku, "quantity": ln.quantity, "cart_count": after.count,
                                                          "cart_total": after.total}))
        step.template = render("reply_cart_removed", title=", ".join(ln.title for ln in lines), count=after.count,
                               total=money(after.total, lines[0].currency)).strip()
        step.evidence.texts.append(step.template)
        return step
    line = None
    found = d.types.find(message)  # "take the shoes back out ... try them on in a shop first": the shoes' line
    lines = [ln for ln in cart.lines if found is not None and ln.product_id in d.catalog
             and set(d.catalog[ln.product_id].category) & set(found[0])] or cart.lines
    for ref in slots.refs:
        if ref.index is not None and -len(lines) <= ref.index < len(lines):
            line = lines[ref.index]
    if line is None and len(lines) < len(cart.lines):
        line = lines[-1]
    if line is None:
        words = {w for w in re.findall(r"[a-z]{4,}", lowered)} - {"remove", "delete", "cart", "basket", "from", "please", "that", "this"}
        scored = [(len(words & set(re.findall(r"[a-z]{4,}", ln.title.lower()))), i) for i, ln in enumerate(cart.lines)]
        best = max(scored)
        if best[0] > 0:
            line = cart.lines[best[1]]
    if line is None:
        focus = [ln for ln in cart.lines if ln.product_id == state.focus]
        if not focus and state.focus in d.catalog and re.search(r"\b(it|that|this)\b", lowered):
            # "remove it" about the product in focus (say, an add still waiting for a colour): not another line
            step.template = render("reply_cart_not_in", title=d.catalog[state.focus].title, count=cart.count,
                                   total=money(cart.total, cart.lines[0].currency)).strip()
            return _nothing_removed(step, d.catalog[state.focus], cart)
        line = focus[-1] if focus else cart.lines[-1]
    quantity = slots.quantity
    some = re.search(r"\b(one|two|three|\d) of (?:them|those|these|the \w+)\b", lowered)
    if quantity is None and some and line.quantity > 1:  # "take one of them back out": one of the units, not all
        quantity = int(some.group(1)) if some.group(1).isdigit() else _QTY_WORDS[some.group(1)]
    after = d.carts.remove(session_id, line.sku, quantity)
    if line.product_id in d.catalog:
        step.cards = [ProductCard.of(d.catalog[line.product_id])]
    step.events.append(Event(type="action", data={"action": "remove_from_cart", "status": "done", "product_id": line.product_id,
                                                  "sku": line.sku, "quantity": quantity or line.quantity,
                                                  "cart_count": after.count, "cart_total": after.total}))
    step.template = render("reply_cart_removed", title=line.title, count=after.count,
                           total=money(after.total, line.currency)).strip()
    step.evidence.texts.append(step.template)
    return step


def cart_view(d: Deps, step: Step, session_id: str) -> Step:
    cart = d.carts.get(session_id)
    step.events.append(Event(type="action", data={"action": "view_cart", "status": "done", "cart_count": cart.count,
                                                  "cart_total": cart.total}))
    if not cart.lines:
        step.template = render("reply_cart_empty").strip()
        return step
    currency = cart.lines[0].currency
    step.cards = [ProductCard.of(d.catalog[ln.product_id]) for ln in cart.lines if ln.product_id in d.catalog]
    lines = "\n".join(
        f"- {ln.quantity} x {ln.title}" + (f" ({', '.join(x for x in (ln.size and f'size {ln.size}', ln.colour) if x)})"
                                          if ln.size or ln.colour else "") + f": {money((ln.unit_price or 0) * ln.quantity, ln.currency)}"
        for ln in cart.lines)
    step.template = render("reply_cart", lines=lines, count=cart.count, total=money(cart.total, currency)).strip()
    step.evidence.texts.append(step.template)
    return step
