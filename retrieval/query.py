"""Query understanding: turn "waterproof boots under $100 in size 10" into search text plus `Filters`.

Price, size and stock phrases are *removed* from the search text (they describe constraints, not the
product); colour, brand and category words are *kept* (they also help matching) and recorded as filters.
A negation ("without block", "not clear") is removed too and its words recorded as `excluded`: search ranks
products naming them lower, unless the phrase is literal (a title or slogan the catalog really has).

How parsed filters apply (`Filters.check`): price, size and stock are constraints, so a product whose known
value contradicts them is dropped, while a product that does not state the value (no price, no sizes) is
kept; brand, colour and category from the query are preferences that raise the rank of matching products,
because catalogs spell them loosely. Filters passed explicitly by a caller (`strict=True`) are hard for
every field: a product must state the value and match it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from pydantic import BaseModel, Field

from retrieval.attributes import AttributeSchema, Constraint, Sort, normalise_numbers
from retrieval.catalog import Product

CURRENCIES = {
    "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "quid": "GBP",
}
COLOURS = {
    "black", "white", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "grey", "gray",
    "beige", "navy", "tan", "khaki", "olive", "maroon", "teal", "turquoise", "silver", "gold", "cream", "ivory",
    "charcoal", "burgundy", "clear", "multicolor", "multicolour",
}
_COLOUR_ALIASES = {"gray": "grey", "multicolor": "multicolour"}
_SIZE_WORDS = {"xxs": "XXS", "xs": "XS", "s": "S", "small": "S", "m": "M", "medium": "M", "l": "L", "large": "L",
               "xl": "XL", "x-large": "XL", "extra large": "XL", "xxl": "XXL", "2xl": "XXL", "xxxl": "XXXL",
               "3xl": "XXXL", "one size": "ONE SIZE"}

_CUR = r"(?:\$|€|£|usd\b|eur\b|euros?\b|dollars?\b|bucks\b|gbp\b|quid\b)"
_NUM = r"(\d+(?:[.,]\d{1,2})?)(?![\d.,]?\d)"
# A number followed by a unit is a quantity, not a price ("less than 5 lbs", "over 2 inches").
_NOT_UNIT = (r"(?!\s*(?:lbs?|pounds?|kg|g\b|oz|ounces?|inch(?:es)?|cm|mm|m\b|ft|feet|foot|gb|tb|mb|w\b|watts?|"
             r"v\b|volts?|mah|%|pack|pcs|pieces|count|ct\b|x\b|years?|months?|days?|hours?|minutes?|mins?|people|"
             r"persons?|seats?|gallons?|liters?|litres?|ml|l\b|qt|quarts?|cups?|amps?|mph|rpm|°|degrees?))")
_AMT = rf"(?P<c1{{i}}>{_CUR})?\s*{_NUM}\s*(?P<c2{{i}}>{_CUR})?"


def _amount(i: int) -> str:
    return _AMT.replace("{i}", str(i)).replace("(\\d", f"(?P<n{i}>\\d", 1)


_LEAD = r"(?:\b(?:priced|price|costs?|costing|for)\s+)?"
_BETWEEN = re.compile(rf"{_LEAD}\b(?:between|from)\s+{_amount(1)}\s*(?:and|to|-|–)\s*{_amount(2)}{_NOT_UNIT}", re.I)
_RANGE = re.compile(rf"(?<![\w.]){_amount(1)}\s*(?:-|–|to)\s*{_amount(2)}{_NOT_UNIT}", re.I)
_MAX = re.compile(
    rf"(?:{_LEAD}\b(?:under|below|sub|less\s+th[ae]n|cheaper\s+th[ae]n|lower\s+th[ae]n|at\s+most|max(?:imum)?|up\s+to|no\s+more\s+th[ae]n|"
    rf"within|no\s+(?:more|higher)\s+than|tops|budget(?:\s+(?:is|of|=|:))?|"
    # "nothing over 40", "not above 60", "none more than 50": a negated lower bound is an upper one
    rf"(?:nothing|none|not|never)\s+(?:over|above|more\s+th[ae]n|higher\s+th[ae]n|pricier\s+th[ae]n|past|beyond|exceeding)|"
    rf"(?:can|could|want\s+to|would\s+like\s+to|willing\s+to|able\s+to)\s+(?:only\s+)?(?:spend|pay|afford)(?:\s+(?:up\s+to|at\s+most|about|around))?|"
    rf"(?:don'?t|do\s+not|won'?t|can'?t|cannot)\s+(?:\w+ly\s+)?(?:want\s+to\s+|afford\s+to\s+)?(?:spend|pay|go)\s+(?:more\s+than|over|above|past)|"
    rf"(?:spend|pay)\s+(?:up\s+to|at\s+most|no\s+more\s+than|less\s+than)|"
    # "I could stretch to 150", "go as high as 120", "my limit is 80"
    rf"(?:stretch|push|bump|raise|increase)(?:\s+(?:it|that|my\s+budget|the\s+budget))?\s+(?:up\s+)?to|go\s+(?:as\s+high|as\s+far)\s+as|limit\s+(?:is|of))|(?<![\w<>])(?:<=?|≤))\s*{_amount(1)}{_NOT_UNIT}", re.I)
# "90 or less", "$60 max", "50 bucks tops", "a 90 dollar budget"
_MAX_AFTER = re.compile(
    rf"(?<![\w.]){_amount(1)}\s*(?:-?ish\s*)?(?:or\s+(?:less|under|below|cheaper)|max(?:imum)?|tops|at\s+most|(?:price\s+)?(?:limit|budget|cap))\b", re.I)
# "around 90", "about $90", "roughly 90 euros", "budget is around 90": a small margin above, said in the reply
_AROUND = re.compile(
    rf"{_LEAD}\b(?:(?:my\s+)?budget(?:\s+(?:is|of|=|:))?\s+)?(?:around|about|approximately|approx\.?|roughly|circa|ca\.|~|"
    rf"like(?=\s*(?:[$€£]|\d+(?:[.,]\d\d)?\s*(?:\$|bucks|dollars?|euros?|quid))))\s*{_amount(1)}"
    rf"(?:\s*(?:-?ish|or\s+so))?{_NOT_UNIT}|(?<![\w.])(?<!size )(?<!size){_amount(2)}-?ish\b{_NOT_UNIT}(?!\s*(?:or\s+(?:less|under|below|cheaper)|max|tops|at\s+most))",
    re.I)
# how far above an "around" budget a product may be
AROUND_MARGIN = 0.10
_MIN = re.compile(
    rf"(?:{_LEAD}\b(?:over|above|more\s+than|at\s+least|min(?:imum)?|starting\s+at|pricier\s+than)|(?<![\w<>])(?:>=?|≥))\s*{_amount(1)}{_NOT_UNIT}",
    re.I)
_SIZE = re.compile(
    r"\b(?:in\s+)?size\s*[:=]?\s*(\d{1,2}(?:[.,]5)?|one\s+size|extra\s+large|x-large|xxxl|xxl|xl|xxs|xs|3xl|2xl|"
    r"small|medium|large|s|m|l)\b", re.I)
# "any in a 10?", "and in an L": a size at the end of a short request, without the word "size"
_SIZE_END = re.compile(r"\bin (?:an? )?(\d{1,2}(?:[.,]5)?|xxs|xs|s|m|l|xl|xxl|xxxl)\s*(?:please|then|too|instead)?\s*[?.!]*\s*$", re.I)
# "forget the budget", "never mind the colour", "scratch the tent", "size doesn't matter", "money's no object":
# a condition (or a kind) the shopper lets go of; the dialogue drops it from the active request
_LIFT = re.compile(
    r"\b(?:forget|never\s*mind|ignore|scrap|scratch|drop|ditch|lose|skip|don'?t\s+(?:worry|care)\s+about|"
    r"(?:i'?m\s+)?not\s+(?:fussed|bothered)\s+about)\s+(?:about\s+)?(?:the|my|that|this|your)\s+"
    r"(?P<what>[\w-]+)(?:\s+(?:limit|cap|bit|part|thing|requirement|filter|one))?\b|"
    r"\b(?:the\s+)?(?P<what2>budget|price|cost|colou?r|size|brand)\s+(?:doesn'?t|does\s+not|don'?t|is\s*n[o']t|isn'?t)\s+"
    r"(?:matter|important|an\s+issue)\b|\bany\s+(?P<what3>price|colou?r|size|brand)\s+(?:is|will)\s+(?:fine|ok|okay|do)\b|"
    r"\b(?P<what4>money|price|cost)(?:'s|\s+is)\s+no\s+object\b|\bwhatever\s+it\s+(?P<what5>costs)\b|\bno\s+(?P<what6>budget)\b",
    re.I)
# "i'm an 8", "she's a size 6", "he's a 10": the size of the person shopping for
_SIZE_PERSON = re.compile(r"\b(?:i'?m|i am|she'?s|she is|he'?s|he is|they'?re|they are)\s+(?:usually\s+|normally\s+)?(?:a|an)\s+"
                          r"(?:(?:uk|us|eu)\s+)?(?:size\s+)?(\d{1,2}(?:[.,]5)?|xxs|xs|s|m|l|xl|xxl|small|medium|large)\b(?![\s-]*(?:year|yr|month|kg|lb))", re.I)
_STOCK = re.compile(r"\b(?:(?:that\s+(?:is|are)\s+)?in[\s-]stock|available\s+now|ready\s+to\s+ship)\b", re.I)


class Filters(BaseModel):
    """Structured constraints on a search. Empty lists / None mean "no constraint"."""

    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    currency: str | None = Field(None, description="Currency the price was stated in (ISO code), if any.")
    brands: list[str] = Field(default_factory=list)
    colours: list[str] = Field(default_factory=list)
    sizes: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    in_stock: bool | None = None
    price_around: float | None = Field(None, ge=0, description="The budget as said ('around 90'); price_max adds the margin.")
    attributes: list[Constraint] = Field(default_factory=list, description="Conditions on catalog attributes ('for 3 people').")
    sort: Sort | None = Field(None, description="A superlative ('the lightest'): best first on that dimension.")

    def is_empty(self) -> bool:
        return self == Filters()

    def merged(self, other: Filters | None) -> Filters:
        """`other`'s set fields win over this one's."""
        if other is None:
            return self
        data = self.model_dump()
        data.update({k: v for k, v in other.model_dump().items() if v not in (None, [])})
        return Filters(**data)

    def check(self, product: Product, *, strict: bool) -> tuple[bool, list[str], int]:
        """Whether the product passes, the constraints it satisfies (for `why`) and how many preferences
        (brand, colour, category) it matches. See the module docstring for strict vs parsed filters."""
        satisfied: list[str] = []
        preferred = 0
        price = _price(product)
        if self.price_min is not None or self.price_max is not None:
            if price is None:
                if strict:
                    return False, [], 0
            elif (self.price_min is not None and price < self.price_min) or (
                self.price_max is not None and price > self.price_max
            ):
                return False, [], 0
            else:
                satisfied.append(f"price {price:g} {product.currency}" + _range_text(self.price_min, self.price_max))
        if self.sizes:
            sizes = {s.lower() for s in product.sizes}
            if isinstance(product.attributes.get("size"), str):
                sizes.add(str(product.attributes["size"]).lower())
            wanted = {s.lower() for s in self.sizes}
            if sizes & wanted:
                satisfied.append(f"size {', '.join(sorted(sizes & wanted)).upper()} available")
            elif sizes or strict:
                return False, [], 0
        if self.in_stock:
            if product.in_stock:
                satisfied.append("in stock")
            elif product.in_stock is False or strict:
                return False, [], 0
        ruled_out: dict[str, list[bool | None]] = {}  # "without down": on every attribute that may say it
        for constraint in self.attributes:
            if constraint.op == "!=":
                ruled_out.setdefault(str(constraint.value), []).append(constraint.check(product))
                continue
            ok = constraint.check(product)
            if not strict and constraint.op == "==" and isinstance(constraint.value, str):
                preferred += bool(ok)  # a catalog word ("women's", "camping") in a query is a preference, like a colour
                continue
            if ok is False or (ok is None and (strict or constraint.op != "is")):
                return False, [], 0  # a product that does not state a measured attribute cannot promise it
            if ok:
                satisfied.append(constraint.phrase or constraint.attribute)
        for word, verdicts in ruled_out.items():  # the product must say what it is made of, and not that
            if False in verdicts or True not in verdicts:
                return False, [], 0
            satisfied.append(f"without {word}")
        for name, wanted_values, have in (
            ("brand", self.brands, [product.brand or ""]),
            ("colour", self.colours, product.colours),
            ("category", self.categories, product.category),
        ):
            if not wanted_values:
                continue
            hits = [w for w in wanted_values if any(_loose_match(w, h) for h in have if h)]
            if hits:
                satisfied.append(f"{name} {hits[0]}")
                preferred += 1
            elif strict:
                return False, [], 0
        return True, satisfied, preferred


class ParsedQuery(BaseModel):
    """What the query parser understood."""

    original: str
    text: str = Field(description="The query with price/size/stock and negated phrases removed: what is searched.")
    filters: Filters = Field(default_factory=Filters)
    excluded: list[str] = Field(default_factory=list, description="Words the shopper does not want ('without X').")
    negation: str = Field("", description="The negation phrase as typed ('without block'), removed from `text`.")
    unnegated_text: str = Field("", description="`text` with the negation phrase left in: searched instead when "
                                "the phrase turns out to be literal (a title or slogan such as 'not your phone').")
    lifted: list[str] = Field(default_factory=list, description="What the shopper lets go of ('forget the budget' -> "
                              "'budget', 'colour doesn't matter' -> 'colour'): a condition of the active request to drop.")


# "knife sets without block", "toothpaste w/o fluoride", "silicone not clear": what follows the negation word, up
# to a joining word or four words, is excluded. "no" and "non" are left alone: "no show socks", "non slip".
NEGATORS = {"without", "w/o", "not", "minus", "except", "excluding"}
_SCOPE_END = {"and", "with", "for", "in", "but", "or", "that", "which", "to", "from", "by", "on"}
_NEG_TOKEN = re.compile(r"w/o|[\w'%-]+", re.UNICODE)


def _split_negation(text: str) -> tuple[str, list[str], str]:
    """(text without the negation phrase, excluded words, the phrase); the input unchanged when there is none."""
    tokens = _NEG_TOKEN.findall(text)
    lowered = [t.lower() for t in tokens]
    for i, token in enumerate(lowered):
        if token not in NEGATORS or i + 1 >= len(tokens):
            continue
        end = i + 1
        while end < len(tokens) and end - i <= 4 and lowered[end] not in _SCOPE_END:
            end += 1
        if end == i + 1:
            continue
        kept = tokens[:i] + tokens[end:]
        if not kept:  # "not clear" alone: nothing left to search for, so keep it literal
            return text, [], ""
        return " ".join(kept), lowered[i + 1 : end], " ".join(tokens[i:end])
    return text, [], ""


def parse_query(
    query: str, *, brands: Iterable[str] = (), categories: Iterable[str] = (), schema: AttributeSchema | None = None
) -> ParsedQuery:
    """Extract price range, currency, sizes, stock, colours, brands and categories from a shopper's query.

    Args:
        query: what the shopper typed.
        brands: the catalog's brand names (matched as whole words, case-insensitively).
        categories: the catalog's category names (matched as whole words, plural-insensitively).
        schema: the catalog's attributes; conditions on them ("for 3 people", "under 1 kg") and superlatives
            ("the lightest") become `attributes` and `sort`, and their words leave the search text, except a
            yes/no attribute's ("waterproof"), which also helps matching.
    """
    text = " " + normalise_numbers(schema.normalise_counts(query.strip()) if schema else query.strip()) + " "
    f: dict = {"brands": [], "colours": [], "sizes": [], "categories": []}

    def cut(match: re.Match) -> str:
        return text[: match.start()] + " " + text[match.end() :]

    units = schema.unit_after if schema else None
    lifted = []
    while (m := _LIFT.search(text)) is not None:
        lifted.append(next(g for g in m.groups() if g).lower())
        text = cut(m)

    def price(pattern: re.Pattern[str]) -> re.Match | None:
        """The first match that is a price: not a quantity in one of the catalog's units, and not a bound of
        nothing ("rated below zero" is a temperature)."""
        pos = 0
        while (m := pattern.search(text, pos)) is not None and (
                units is not None and units.match(text, m.end()) or pattern not in (_BETWEEN, _RANGE) and float((m.group("n1") or m.group("n2")).replace(",", ".")) == 0):
            pos = m.start() + 1
        return m

    while (m := price(_AROUND)) is not None:
        groups = m.groupdict()
        currencies = [groups.get(k) for k in ("c11", "c21", "c12", "c22") if groups.get(k)]
        if currencies:
            f["currency"] = CURRENCIES[currencies[0].lower()]
        f["price_around"] = float((groups["n1"] or groups["n2"]).replace(",", "."))
        f["price_max"] = round(f["price_around"] * (1 + AROUND_MARGIN), 2)
        text = cut(m)
    for pattern, kind in ((_BETWEEN, "range"), (_RANGE, "range"), (_MAX, "max"), (_MAX_AFTER, "max"), (_MIN, "min")):
        while (m := price(pattern)) is not None:
            groups = m.groupdict()
            currencies = [groups.get(k) for k in ("c11", "c21", "c12", "c22") if groups.get(k)]
            if kind == "range" and pattern is _RANGE and not currencies:
                break  # "10-12" alone is not clearly a price
            if currencies:
                f["currency"] = CURRENCIES[currencies[0].lower()]
            first = float(groups["n1"].replace(",", "."))
            if kind == "range":
                second = float(groups["n2"].replace(",", "."))
                f["price_min"], f["price_max"] = min(first, second), max(first, second)
            elif kind == "max":
                f["price_max"] = first
            else:
                f["price_min"] = first
            text = cut(m)
    while (m := _SIZE.search(text)) is not None:
        raw = re.sub(r"\s+", " ", m.group(1).lower()).replace(",", ".")
        f["sizes"].append(_SIZE_WORDS.get(raw, raw.upper()))
        text = cut(m)
    if not f["sizes"] and (m := _SIZE_PERSON.search(text)) is not None:
        raw = m.group(1).lower().replace(",", ".")
        f["sizes"].append(_SIZE_WORDS.get(raw, raw.upper()))
        text = cut(m)
    if not f["sizes"] and (m := _SIZE_END.search(text)) is not None:
        raw = m.group(1).lower().replace(",", ".")
        f["sizes"].append(_SIZE_WORDS.get(raw, raw.upper()))
        text = cut(m)
    if (m := _STOCK.search(text)) is not None:
        f["in_stock"] = True
        text = cut(m)
    if schema:
        understood = schema.understand(text)
        f["attributes"], f["sort"] = understood.constraints, understood.sort
        for start, end in sorted(understood.spans, reverse=True):  # numbers and superlatives, not yes/no words
            text = text[:start] + " " + text[end:]
    unnegated = re.sub(r"\s+", " ", text).strip(" ,.;")
    remaining, excluded, negation = _split_negation(unnegated)
    lowered = remaining.lower()
    tokens = re.findall(r"\w+", lowered)
    flag_words = {w for c in f.get("attributes") or [] if c.op == "is" for w in re.findall(r"\w+", c.phrase.lower())}
    for word in tokens:
        if word in COLOURS and word not in flag_words:  # "with a red light" asks for the light, not the colour
            colour = _COLOUR_ALIASES.get(word, word)
            if colour not in f["colours"]:
                f["colours"].append(colour)
    brand_keys = _phrase_index(tuple(brands), singular=False)
    for brand in _phrases_in(tokens, brand_keys):
        if brand not in f["brands"]:
            f["brands"].append(brand)
    category_keys = _phrase_index(tuple(categories), singular=True)
    for category in _phrases_in([t.rstrip("s") for t in tokens], category_keys):
        if category not in f["categories"]:
            f["categories"].append(category)
    return ParsedQuery(original=query, text=remaining, filters=Filters(**f), excluded=excluded, negation=negation,
                       unnegated_text=unnegated if excluded else "", lifted=lifted)


@lru_cache(maxsize=8)
def _phrase_index(names: tuple[str, ...], *, singular: bool) -> tuple[dict[tuple[str, ...], list[str]], int]:
    """(word tuple -> the catalog names spelled that way, the longest tuple); brands as is, categories
    plural-insensitively.

    Built once per vocabulary (the searcher passes the same tuple each time), so matching a query costs a
    look-up per word n-gram rather than a scan over every brand in the catalog.
    """
    index: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        key = tuple(re.findall(r"\w+", name.lower()))
        if singular:
            key = tuple(t.rstrip("s") for t in key)
        text = " ".join(key)
        if len(text) >= 3 and not text.isdigit():
            index.setdefault(key, []).append(name)
    return index, max((len(k) for k in index), default=0)


def _phrases_in(tokens: list[str], phrase_index: tuple[dict[tuple[str, ...], list[str]], int]) -> list[str]:
    """Names whose words occur consecutively in `tokens`, in order of first appearance."""
    index, longest = phrase_index
    found: list[str] = []
    for n in range(1, longest + 1):
        for i in range(len(tokens) - n + 1):
            found += index.get(tuple(tokens[i : i + n]), [])
    return sorted(set(found), key=found.index)


def _price(product: Product) -> float | None:
    if product.price is not None:
        return product.price
    prices = [v.price for v in product.variants if v.price is not None]
    return min(prices) if prices else None


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" within {low:g}-{high:g}"
    return f" under {high:g}" if high is not None else f" over {low:g}"


@lru_cache(maxsize=65536)
def _loose_form(text: str) -> str:
    return " " + " ".join(w.rstrip("s") for w in re.findall(r"\w+", text.lower().replace("gray", "grey"))) + " "


def _loose_match(wanted: str, have: str) -> bool:
    """Case-insensitive whole-word containment, with grey/gray and plural spellings treated alike."""
    form = _loose_form(wanted)
    return form.strip() != "" and form in _loose_form(have)
