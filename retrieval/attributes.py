"""The catalog's attribute schema, derived from the products, and the constraints and superlatives a shopper
states in words ("for three people", "rated to -10", "under 1 kg", "the lightest", "waterproof").

Nothing here is specific to one shop: the schema is read from the catalog's `attributes` (numbers, booleans,
words), a number's unit comes from the attribute name's suffix (`weight_g`, `capacity_l`, `temperature_rating_c`,
`capacity_persons`), and the words for each dimension come from a small synonym table that a shop can extend
(`Synonyms`). An attribute that no product has is never parsed, so a catalog without attributes (ESCI) gets
exactly the plain search.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from pydantic import BaseModel, Field

from retrieval.catalog import Product
from text.dictionary import english_words

Op = Literal[">=", "<=", "==", "!=", "~", "is"]

# Unit suffix of an attribute name -> (canonical unit, words a shopper uses for it, factor to the canonical unit).
_UNITS: dict[str, tuple[str, dict[str, float]]] = {
    "g": ("g", {"g": 1, "gram": 1, "grams": 1, "kg": 1000, "kgs": 1000, "kilo": 1000, "kilos": 1000, "kilograms": 1000,
                "oz": 28.35, "ounce": 28.35, "ounces": 28.35, "lb": 453.6, "lbs": 453.6, "pound": 453.6, "pounds": 453.6}),
    "kg": ("kg", {"kg": 1, "kgs": 1, "kilo": 1, "kilos": 1, "kilograms": 1, "g": 0.001, "grams": 0.001, "lb": 0.4536,
                  "lbs": 0.4536, "pounds": 0.4536}),
    "l": ("l", {"l": 1, "liter": 1, "liters": 1, "litre": 1, "litres": 1, "ltr": 1, "ml": 0.001}),
    "c": ("°C", {"c": 1, "°c": 1, "°": 1, "degree": 1, "degrees": 1, "celsius": 1}),
    "mm": ("mm", {"mm": 1, "cm": 10}),
    "cm": ("cm", {"cm": 1, "mm": 0.1, "m": 100}),
    "m2": ("m²", {"m2": 1, "m²": 1, "sqm": 1}),
    "h": ("h", {"h": 1, "hr": 1, "hrs": 1, "hour": 1, "hours": 1}),
    "w": ("W", {"w": 1, "watt": 1, "watts": 1}),
    "min": ("min", {"min": 1, "mins": 1, "minute": 1, "minutes": 1}),
    "persons": ("people", {"people": 1, "person": 1, "persons": 1, "adults": 1, "man": 1, "men": 1, "p": 1}),
    "years": ("years", {"year": 1, "years": 1, "yr": 1, "yrs": 1}),
    "gsm": ("g/m²", {"gsm": 1}),
}
# Attribute names without a unit suffix whose number still has a unit word.
_NAMED_UNITS = {"lumens": ("lumens", {"lumens": 1, "lumen": 1, "lm": 1}), "seasons": ("season", {"season": 1, "seasons": 1})}

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100, "one hundred": 100,
    "couple": 2, "a couple": 2, "solo": 1, "single": 1, "pair": 2,
}
_NUMBER_WORDS |= {f"{w} hundred": n * 100 for w, n in list(_NUMBER_WORDS.items()) if 2 <= n <= 9 and " " not in w}


class Synonyms(BaseModel):
    """Words for attribute dimensions; the defaults cover common catalogs, a shop adds its own.

    `dimensions` maps a dimension to attribute names, first match wins per product set (so "roomiest" means
    persons for tents and litres for packs); a leading "-" marks an attribute that runs the other way from
    the dimension's first one. `superlatives` maps a word to (dimension, "asc"|"desc"): the order that puts
    the best product first.
    """

    dimensions: dict[str, list[str]] = Field(default_factory=lambda: {
        "weight": ["weight_g", "weight_kg", "weight"],
        # "-name": the attribute runs the other way (a higher R-value is warmer, a lower comfort rating is)
        "warmth": ["temperature_rating_c", "temperature_rating_f", "temperature_rating", "-r_value", "-fill_power",
                   "-insulation_g"],
        "brightness": ["lumens"],
        "capacity": ["capacity_persons", "capacity_l", "volume_l", "floor_area_m2", "capacity"],
        "volume": ["capacity_l", "volume_l"],
        "runtime": ["runtime_h", "battery_life_h"],
        "height": ["peak_height_cm", "height_cm"],
        "thickness": ["thickness_cm", "thickness_mm"],
        "insulation": ["r_value"],
        "waterproofing": ["waterproof_rating_mm", "hydrostatic_head_mm"],
        "warranty": ["warranty_years"],
        "power": ["output_w"],
        "price": ["price"],
        "rating": ["rating"],
    })
    superlatives: dict[str, tuple[str, Literal["asc", "desc"]]] = Field(default_factory=lambda: {
        "lightest": ("weight", "asc"), "lighter": ("weight", "asc"), "lightweight": ("weight", "asc"),
        "heaviest": ("weight", "desc"), "heavier": ("weight", "desc"), "weighs the least": ("weight", "asc"),
        "weighs least": ("weight", "asc"), "weight-wise": ("weight", "asc"), "weight wise": ("weight", "asc"), "least heavy": ("weight", "asc"), "lowest weight": ("weight", "asc"),
        "least weight": ("weight", "asc"), "weighs the most": ("weight", "desc"), "weighs most": ("weight", "desc"),
        # a lower comfort rating is a warmer bag; fill power and insulation grams fall back for jackets
        "warmest": ("warmth", "asc"), "warmer": ("warmth", "asc"),
        "brightest": ("brightness", "desc"), "brighter": ("brightness", "desc"), "most lumens": ("brightness", "desc"),
        "roomiest": ("capacity", "desc"), "roomier": ("capacity", "desc"), "most spacious": ("capacity", "desc"),
        "biggest": ("capacity", "desc"), "bigger": ("capacity", "desc"), "largest": ("capacity", "desc"),
        "larger": ("capacity", "desc"), "most space": ("capacity", "desc"), "most room": ("capacity", "desc"),
        "most capacity": ("capacity", "desc"), "holds the most": ("capacity", "desc"), "holds most": ("capacity", "desc"),
        "fits the most": ("capacity", "desc"), "most volume": ("volume", "desc"), "most litres": ("volume", "desc"),
        "most liters": ("volume", "desc"), "smallest": ("capacity", "asc"), "most compact": ("capacity", "asc"),
        "longest runtime": ("runtime", "desc"), "longest battery": ("runtime", "desc"), "longest lasting": ("runtime", "desc"),
        "tallest": ("height", "desc"), "most headroom": ("height", "desc"), "most head room": ("height", "desc"), "thickest": ("thickness", "desc"), "thinnest": ("thickness", "asc"),
        "thicker": ("thickness", "desc"), "thinner": ("thickness", "asc"), "most insulated": ("insulation", "desc"),
        "most waterproof": ("waterproofing", "desc"), "longest warranty": ("warranty", "desc"),
        "most powerful": ("power", "desc"),
        "cheapest": ("price", "asc"), "cheaper": ("price", "asc"), "least expensive": ("price", "asc"),
        "lowest price": ("price", "asc"), "most affordable": ("price", "asc"), "most expensive": ("price", "desc"),
        "priciest": ("price", "desc"), "best rated": ("rating", "desc"), "highest rated": ("rating", "desc"),
        "top rated": ("rating", "desc"), "best reviewed": ("rating", "desc"),
    })
    # Words for a person that say a value's word: "a jacket for my sister" is the women's range. Adult relations
    # only ("son" may be the kids' range); unused when the message says the shopper buys for themselves ("me").
    person_words: dict[str, str] = Field(default_factory=lambda: {
        **dict.fromkeys(["sister", "mum", "mom", "mother", "wife", "girlfriend", "aunt", "auntie", "gran", "granny",
                         "grandma", "grandmother", "fiancee", "her", "she", "lady", "ladies", "missus", "mrs"], "women"),
        **dict.fromkeys(["brother", "dad", "father", "husband", "boyfriend", "uncle", "grandad", "granddad", "grandpa",
                         "grandfather", "fiance", "him", "he", "gentleman", "gentlemen"], "men"),
    })
    # Words for what the shopper (or anyone) is, counted even for "me": "for myself (guy)", "a bloke's jacket".
    gender_words: dict[str, str] = Field(default_factory=lambda: {
        **dict.fromkeys(["guy", "guys", "bloke", "blokes", "lad", "lads", "fella", "dude"], "men"),
        **dict.fromkeys(["gal", "gals"], "women"),
    })
    # Dimensions whose bare number reads as a bound in one direction: "rated to -10" means -10 or colder,
    # "for three people" means at least three.
    bound: dict[str, Op] = Field(default_factory=lambda: {"people": ">=", "lumens": ">=", "h": ">=",
                                                          "years": ">=", "season": "=="})


@dataclass(frozen=True)
class Attribute:
    """One attribute of the catalog: its kind, unit and the values products give it."""

    name: str
    kind: Literal["number", "bool", "text"]
    unit: str = ""  # canonical unit of a number ("g", "l", "°C", "people")
    unit_words: tuple[tuple[str, float], ...] = ()  # words a shopper writes for the unit, and the factor
    values: tuple[str, ...] = ()  # the words of a text attribute
    count: int = 0  # products that state it

    @property
    def label(self) -> str:
        base = re.sub(r"_(g|kg|l|c|mm|cm|m2|h|w|min|persons|years|gsm)$", "", self.name)
        return base.replace("_", " ")


class Constraint(BaseModel, frozen=True):
    """A condition on one attribute: `capacity_persons >= 3`, `waterproof is True`, `weight_g ~ 1000`."""

    attribute: str
    op: Op
    value: bool | int | float | str
    phrase: str = ""  # the shopper's words, for the reply ("for 3 people")

    def check(self, product: Product) -> bool | None:
        """True/False, or None when the product does not state the attribute."""
        have = value_of(product, self.attribute)
        if have is None:
            return None
        if self.op == "is":
            return bool(have) is bool(self.value)
        if isinstance(self.value, str):  # a word of the catalog: "women's" is not "men's"
            values = have if isinstance(have, (list, tuple)) else [have]
            if self.op in ("==", "!="):  # every word of the value: "hiking" fits "day hiking", "women's" not "men's"
                return any(_words(self.value) <= _words(str(h)) for h in values) is (self.op == "==")
            return any(self.value.lower() in str(h).lower() for h in values)
        if isinstance(have, (list, tuple)):
            return None
        try:
            number = float(have)
        except (TypeError, ValueError):
            return None
        target = float(self.value)
        if self.op == ">=":
            return number >= target
        if self.op == "<=":
            return number <= target
        if self.op == "==":
            return number == target
        return abs(number - target) <= max(abs(target) * 0.15, 1e-9)  # "~": a 40 l pack is 34-46 l


class Sort(BaseModel, frozen=True):
    """Best-first order on one dimension ("the lightest" = weight ascending)."""

    dimension: str
    descending: bool
    phrase: str = ""


@dataclass
class Understood:
    """What a message says about attributes."""

    constraints: list[Constraint] = field(default_factory=list)
    sort: Sort | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)  # where in the text, to cut from search text


def value_of(product: Product, name: str):
    """An attribute's value, with price and rating read from the product itself."""
    if name == "price":
        if product.price is not None:
            return product.price
        prices = [v.price for v in product.variants if v.price is not None]
        return min(prices) if prices else None
    if name == "rating":
        return product.rating
    return product.attributes.get(name)


_BEFORE_NUMBER = (r"under|below|than|then|around|about|approximately|roughly|budget|spend|pay|max|maximum|to|over|above|"
                  r"least|most|for|sleeps|fits|is|of|minus|\$|€|£")
_AFTER_NUMBER = (r"dollars?|bucks|euros?|pounds?|quid|people|persons?|person|adults|man|men|seasons?|hours?|liters?|litres?|l|kg|"
                 r"kilos?|grams?|lumens|degrees|°|p")


def normalise_numbers(text: str) -> str:
    """Number words next to a price or unit as digits ("for three people" -> "for 3 people", "under a hundred"
    -> "under 100"); other number words stay ("the one for whom", "one piece swimsuit")."""
    words = "|".join(re.escape(w) for w in sorted(_NUMBER_WORDS, key=len, reverse=True))
    # "a family of three", "the four of us": that many people
    text = re.sub(rf"\b(?:an? )?(?:family|group|party) of ({words}|\d+)\b|\b(?:for )?(?:the |all )?({words}|\d+) of us\b",
                  lambda m: f"for {m.group(1) or m.group(2)} people", text, flags=re.I)
    pattern = re.compile(
        rf"(?P<pre>(?:\b(?:{_BEFORE_NUMBER})\s+)|[$€£])(?P<a>{words})\b|\b(?P<b>{words})(?=[\s-]+(?:{_AFTER_NUMBER})\b)",
        re.I,
    )
    text = pattern.sub(lambda m: (m.group("pre") or "") + str(_NUMBER_WORDS[(m.group("a") or m.group("b")).lower()]), text)
    # "a litre or more", "an hour": one of the unit
    return re.sub(r"\b(?:a|an)\s+(?=(?:litre|liter|kilo|kilogram|gallon|hour|degree)s?\b)", "1 ", text, flags=re.I)


class AttributeSchema:
    """The attributes a catalog has, and the parser for what a shopper says about them."""

    def __init__(self, attributes: dict[str, Attribute], synonyms: Synonyms | None = None,
                 category_words: frozenset[str] = frozenset()):
        self.attributes = attributes
        self.synonyms = synonyms or Synonyms()
        # free text with many values ("nubuck leather", "merino wool blend"): a distinctive word of them ("merino")
        # is a condition on that attribute; words of the category names ("hiking") say what, not which
        counts: dict[str, Counter[str]] = {}
        for a in attributes.values():
            if a.kind == "text" and a.count >= MIN_ENUM_COUNT and len(a.values) > MAX_ENUM_VALUES and a.name not in _OWN_PARSERS:
                for v in a.values:
                    for w in _words(v) - _NOT_VALUES - category_words:
                        if len(w) >= 4:
                            counts.setdefault(w, Counter())[a.name] += 1
        self._free_words = {w: by.most_common(1)[0][0] for w, by in counts.items()}
        # what a shopper rules out ("no down", "nothing synthetic"): a distinctive word of a text value, or the word
        # a value ends in ("850-fill-power down"); after a negation even a word like "down" is unambiguous
        ruled: dict[str, Counter[str]] = {}
        for a in attributes.values():
            if a.kind == "text" and a.count >= MIN_ENUM_COUNT and a.name not in _OWN_PARSERS:
                for v in a.values:
                    said = re.findall(r"[a-z]+", str(v).lower())
                    for w in ({w for w in _words(v) if len(w) >= 4} - _NOT_VALUES) | ({_words(said[-1]).pop()} if said else set()):
                        if len(w) >= 3 and w not in category_words and w not in _NEVER_RULED_OUT:
                            ruled.setdefault(w, Counter())[a.name] += 1
        self._ruled_out = {w: sorted(by) for w, by in ruled.items()}
        self._ruled_out_pattern = re.compile(
            rf"\b{_RULING_OUT}[\s-]+(?:(?:real|any|more|of|the|that|those)\s+)?({'|'.join(sorted(map(re.escape, self._ruled_out), key=len, reverse=True))})\b"
        ) if self._ruled_out else None
        # the word several values of an enumeration end in ("850-fill-power down", "650-fill-power down"; "recycled
        # synthetic", "ThermoLoft synthetic") names their class: "a down jacket", "synthetic fill" ask for it
        heads: dict[str, Counter[str]] = {}
        for a in attributes.values():
            if a.kind == "text" and a.count >= MIN_ENUM_COUNT and len(a.values) <= MAX_ENUM_VALUES and a.name not in _OWN_PARSERS:
                for v in a.values:
                    said = re.findall(r"[a-z]+", str(v).lower())
                    if len(said) >= 2 and len(said[-1]) >= 3 and said[-1] not in _NEVER_RULED_OUT | category_words:
                        heads.setdefault(said[-1], Counter())[a.name] += 1
        self._value_heads = {w: by.most_common(1)[0][0] for w, by in heads.items() if max(by.values()) >= 2}
        self._head_nouns = category_words | {"one", "ones", "fill", "filled", "insulation", "insulated", "version", "kind", "type"}
        self._bool_patterns = [(a, _bool_pattern(a.name)) for a in attributes.values() if a.kind == "bool"]
        # a one-word text attribute said with a value or its most: "max cushioning", "the more cushioned the better"
        self._valued_names = []
        for a in attributes.values():
            if a.kind == "text" and a.count >= MIN_ENUM_COUNT and "_" not in a.name:
                stem = re.escape(re.sub(r"(?:ing|ed|s)$", "", a.name))
                self._valued_names.append((a, {str(v).lower(): v for v in a.values}, re.compile(rf"\b([a-z]+)\s+{stem}\w*"),
                                           re.compile(rf"\b(?:most|more|max(?:imum)?|(?:lots|loads|tons|heaps|plenty|a lot|a ton) of|as much)\s+{stem}\w*")))
        # text attributes with a small vocabulary are enumerations: "for women" -> gender == "Women's"
        self._enum_values = [(a, v, _words(v)) for a in attributes.values()
                             if a.kind == "text" and a.count >= MIN_ENUM_COUNT and len(a.values) <= MAX_ENUM_VALUES
                             for v in a.values if _words(v) and not _words(v) <= _NOT_VALUES]
        numbers = [a for a in attributes.values() if a.kind == "number"]
        self._number_patterns = [(a, _number_pattern(a)) for a in numbers if a.unit_words]
        # the attribute's own name as the unit: "an R-value of 4 or more", "fill power 800+", "800 thread count"
        self._number_patterns += [(a, _named_number_pattern(a)) for a in numbers if _name_phrase(a.name)]
        # the attribute's name after "most"/"lowest": "the most floor space", "the highest R-value"
        firsts = [_name_phrase(a.name).split(r"[\s-]*")[0] for a in numbers if _name_phrase(a.name)]
        self._superlative_names = [(a, _superlative_pattern(a, firsts)) for a in numbers if _name_phrase(a.name)]
        # a count named after it: "with two doors", "2 vestibules", "a 10-piece set"
        counted = [a for a in numbers if not a.unit_words and re.fullmatch(r"[a-z]+", a.name)]
        self._number_patterns += [(a, _count_pattern(a)) for a in counted]
        # a number before the attribute's name: "zero drop", "an 800 fill power down", "5 mm lug depth"
        named = [a for a in numbers if _name_phrase(a.name)]
        self._number_patterns += [(a, _number_before_name_pattern(a)) for a in named]
        names = "|".join([*(re.escape(a.name.removesuffix("s")) + "s?" for a in counted), *(_name_phrase(a.name) for a in named)])
        number_words = "|".join(re.escape(w) for w in sorted(_NUMBER_WORDS, key=len, reverse=True))
        self._count_words = re.compile(rf"\b({number_words})(?=[\s-]+(?:{names})\b)", re.I) if names else None
        # "at least 300 lumens", "over 20 litres": a number with one of this catalog's units is no price
        units = sorted({w for a in numbers for w, _ in a.unit_words if len(w) > 1 and w.isalpha()}
                       | {w for a in counted for w in (a.name, a.name.removesuffix("s"))}, key=len, reverse=True)
        self.unit_after = re.compile(rf"[\s-]*(?:{'|'.join(map(re.escape, units))})(?![\w'’])", re.I) if units else None

    @classmethod
    def from_products(cls, products: Iterable[Product], synonyms: Synonyms | None = None, min_count: int = 2) -> AttributeSchema:
        kinds: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        values: dict[str, set[str]] = {}
        for p in products:
            for name, value in p.attributes.items():
                counts[name] = counts.get(name, 0) + 1
                if isinstance(value, bool):
                    kinds.setdefault(name, set()).add("bool")
                elif isinstance(value, (int, float)):
                    kinds.setdefault(name, set()).add("number")
                else:
                    kinds.setdefault(name, set()).add("text")
                    for v in value if isinstance(value, list) else [value]:
                        values.setdefault(name, set()).add(str(v))
        attributes = {}
        for name, kind_set in kinds.items():
            if counts[name] < min_count or len(kind_set) != 1:
                continue
            kind = next(iter(kind_set))
            unit, words = "", ()
            if kind == "number":
                unit, words = _unit_of(name)
            attributes[name] = Attribute(name, kind, unit, words, tuple(sorted(values.get(name, ()))), counts[name])
        category_words = frozenset(w for p in products for c in p.category for w in _words(c))
        return cls(attributes, synonyms, category_words)

    def normalise_counts(self, text: str) -> str:
        """Number words before one of the catalog's counted things as digits: "two doors" -> "2 doors"."""
        if self._count_words is None:
            return text
        return self._count_words.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]), text)

    def __bool__(self) -> bool:
        return bool(self.attributes)

    def dimension_attribute(self, dimension: str, products: Iterable[Product]) -> str | None:
        """The attribute that measures `dimension` for these products: the first synonym most of them state."""
        found = self._dimension(dimension, list(products))
        return found[0] if found else None

    def _dimension(self, dimension: str, products: list[Product]) -> tuple[str, bool] | None:
        """(attribute, runs the other way) for `dimension` on these products."""
        for entry in self.synonyms.dimensions.get(dimension, [dimension]):
            name, reverse = entry.lstrip("-"), entry.startswith("-")
            if name in ("price", "rating") or name in self.attributes:
                have = sum(value_of(p, name) is not None for p in products)
                if products and have * 2 >= len(products):
                    return name, reverse
        return None

    def order(self, products: list[Product], sort: Sort) -> list[Product]:
        """`products` best first by `sort`; those without the attribute keep their order, after the others."""
        found = self._dimension(sort.dimension, products)
        if found is None:
            return products
        name, reverse = found
        known = [p for p in products if isinstance(value_of(p, name), (int, float))]
        rest = [p for p in products if p not in known]
        known.sort(key=lambda p: float(value_of(p, name)), reverse=sort.descending != reverse)
        return known + rest

    def understand(self, text: str) -> Understood:
        """Constraints and a superlative in `text` (which should have had `normalise_numbers` applied)."""
        out = Understood()
        lowered = text.lower()
        for attribute, pattern in self._superlative_names:  # an attribute named outright beats a generic synonym
            m = pattern.search(lowered)
            if m:
                descending = m.group("dir") in _MOST
                out.sort = Sort(dimension=attribute.name, descending=descending, phrase=f"one with the {m.group('dir')} {attribute.label}")
                out.spans.append(m.span())
                break
        for phrase in sorted(self.synonyms.superlatives, key=len, reverse=True):
            m = re.search(rf"(?<!or )\b{re.escape(phrase)}\b(?!\s+th[ae]n\b)", lowered)  # "300 lumens or brighter" is a bound
            if out.sort is None and m and not any(s <= m.start() < e for s, e in out.spans):
                dimension, direction = self.synonyms.superlatives[phrase]
                if dimension in ("price", "rating") or any(n in self.attributes for n in self.synonyms.dimensions.get(dimension, [])):
                    if phrase.endswith("wise"):  # "best weight-wise" is said back as "the lightest"
                        phrase = next((p for p, v in self.synonyms.superlatives.items()
                                       if v == (dimension, direction) and p.endswith("est") and " " not in p), phrase)
                    out.sort = Sort(dimension=dimension, descending=direction == "desc", phrase=phrase)
                    out.spans.append(m.span())
                    break
        if out.sort is None:  # "the deepest lugs", "the widest": the adjective of a word of an attribute's name
            for m in _ADJECTIVE_SUPERLATIVE.finditer(lowered):
                if any(s <= m.start() < e for s, e in out.spans):
                    continue
                noun, descending = _ADJECTIVE_NOUNS[m.group(1)]
                named = [a for a in self.attributes.values() if a.kind == "number" and noun in a.name.split("_")]
                if named:  # the attribute whose other name words the text also uses ("lug depth")
                    said_words = _words(lowered)
                    attribute = max(named, key=lambda a: (len(_words(" ".join(a.name.split("_"))) & said_words), a.count))
                    out.sort = Sort(dimension=attribute.name, descending=descending, phrase=f"one with the {m.group(0)} {attribute.label}")
                    out.spans.append(m.span())
                    break
        # One span can read as several attributes with the same unit ("rated to -10": a sleeping bag's comfort
        # rating or a pan's oven limit): the attribute whose name words the text uses wins, then the commoner one.
        found: dict[tuple[int, int], list[tuple[int, int, Constraint]]] = {}
        words = set(re.findall(r"[a-z]+", lowered))
        for attribute, pattern in self._number_patterns:
            for m in pattern.finditer(lowered):
                if any(s <= m.start() < e for s, e in out.spans):
                    continue
                constraint = self._number_constraint(attribute, m)
                if constraint is not None:
                    named = len(words & set(attribute.name.split("_")))
                    found.setdefault(m.span(), []).append((named, attribute.count, constraint))
        taken: list[tuple[int, int]] = []
        for span, options in sorted(found.items(), key=lambda kv: kv[0][1] - kv[0][0], reverse=True):
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            taken.append(span)
            out.constraints.append(max(options, key=lambda o: (o[0], o[1]))[2])
        out.spans += taken
        ruled_out: list[Constraint] = []
        for m in self._ruled_out_pattern.finditer(lowered) if self._ruled_out_pattern else ():
            word = _words(m.group(1)).pop()
            if not any(s <= m.start() < e for s, e in out.spans):  # "no down please": down is not wanted
                ruled_out += [Constraint(attribute=name, op="!=", value=word, phrase=f"without {word}")
                              for name in self._ruled_out[word]]
                out.spans.append(m.span())
        rest = lowered
        for start, end in out.spans:  # "a one-man tent" is a size of tent, not the men's range
            rest = rest[:start] + " " * (end - start) + rest[end:]
        out.constraints += ruled_out
        said = _words(rest)
        said |= self._person_value_words(rest)  # a kind without the attribute drops the condition (search)
        # "closed cel foam": a value of several words said with one of them misspelt ("cel" for cell) counts
        said |= {w for _, _, value_words in self._enum_values if len(value_words) >= 2 and len(value_words - said) == 1
                 for w in value_words - said if _misspelt_in(w, said - value_words)}
        enums: dict[str, Constraint] = {}
        for attribute, value, value_words in self._enum_values:
            if value_words <= said and (attribute.name not in enums or len(value_words) > len(_words(str(enums[attribute.name].value)))):
                enums[attribute.name] = Constraint(attribute=attribute.name, op="==", value=value, phrase=value)
        free: dict[str, list[str]] = {}
        for word in sorted(said & self._free_words.keys(), key=lowered.find):  # "synthetic mesh": both words
            free.setdefault(self._free_words[word], []).append(word)
        for name, words_said in free.items():
            if name not in enums:
                enums[name] = Constraint(attribute=name, op="==", value=" ".join(words_said), phrase=" ".join(words_said))
        for m in re.finditer(r"\b([a-z]+)\b(?=(?:[\s-]+([a-z]+))?)", rest):  # "a down jacket": the class of values said
            name = self._value_heads.get(m.group(1))
            if name is None or name in enums:
                continue
            if not (m.group(2) and (m.group(2) in self._head_nouns or _words(m.group(2)) & self._head_nouns)):
                continue  # said before a noun of the kind ("a down one"), not as a noun of its own ("down to 100", "runs trails")
            enums[name] = Constraint(attribute=name, op="==", value=m.group(1), phrase=m.group(1))
        for attribute, values, named_pattern, most_pattern in self._valued_names:  # "max cushioning", "the more cushioned"
            if attribute.name in enums:
                continue
            named = named_pattern.search(rest)
            if named and named.group(1) in values:
                value = values[named.group(1)]
            elif most_pattern.search(rest) and (top := next((v for w, v in values.items() if w in _HIGHEST), None)) is not None:
                value = top
            else:
                continue
            enums[attribute.name] = Constraint(attribute=attribute.name, op="==", value=value, phrase=f"{value} {attribute.name}")
        out.constraints += list(enums.values())
        for attribute, pattern in self._bool_patterns:
            m = pattern.search(lowered)
            if m and not any(s <= m.start() < e for s, e in out.spans):
                negated = bool(re.search(r"\b(?:not|non|no|without)[\s-]+$", lowered[: m.start()]))
                # said back in the catalog's words when said otherwise ("can go in the dishwasher": dishwasher safe)
                phrase = m.group(0) if set(attribute.name.split("_")) <= _words(m.group(0)) else attribute.name.replace("_", " ")
                out.constraints.append(Constraint(attribute=attribute.name, op="is", value=not negated, phrase=phrase))
        return out

    def _person_value_words(self, text: str) -> set[str]:
        """The value word the people named imply ("my mum" -> "women"), when they agree and it is not for "me"."""
        words = set(re.findall(r"[a-z]+", text.replace("'s", "")))
        implied = {self.synonyms.person_words[w] for w in words if w in self.synonyms.person_words}
        if words & {"me", "myself", "mine"}:
            implied = set()
        implied |= {self.synonyms.gender_words[w] for w in words if w in self.synonyms.gender_words}
        return implied if len(implied) == 1 else set()

    def _number_constraint(self, attribute: Attribute, m: re.Match[str]) -> Constraint | None:
        groups = m.groupdict()
        alt = "_u" if groups.get("num") is None and groups.get("num_u") is not None else ""
        factor = dict(attribute.unit_words).get(groups.get("unit" + alt) or "", 1.0)
        value = float(groups["num" + alt]) * factor
        if groups.get("neg" + alt):
            value = -value
        word = (groups.get("cmp" + alt) or groups.get("sl") or "").strip()
        counted = groups.get("count") is not None  # "with two doors": at least two
        post = re.sub(r"\s+", " ", (groups.get("post") or "").strip())
        negated = re.match(r"(?:nothing|none|no|not|never)\s+", word)
        core = word[negated.end():] if negated else word
        if re.match(rf"(?:{_SMALLER}|below|at most|max|up to|<)\b", core) or re.match(
                r"or (less|under|below|smaller|lighter|shorter|lower)|max|at most|tops", post):
            op: Op = ">=" if negated else "<="
        elif re.match(rf"(?:{_LARGER}|above|at least|min|>|plus)\b", core) or re.match(r"\+|or (more|over|above|bigger|larger|brighter|longer|higher)|plus|min|at least", post):
            op = "<=" if negated else ">="
        elif attribute.unit == "people" and not word and not groups.get("sl") and (groups.get("unit2") or "").lower() in _CLASS_UNITS:
            op = "=="  # "a 2-person tent", "a one-man tent": that class; "for 2 people" and "sleeps 2" are at least
        else:
            op = ">=" if counted else self.synonyms.bound.get(attribute.unit, "~")
        if attribute.unit == "°C" and op == "~":  # a comfort rating is a floor ("to -10" = -10 or colder), a limit a ceiling
            op = "<=" if re.search(r"temperature|comfort|rating", attribute.name) else ">="
        value = round(value, 3)
        phrase = re.sub(r"^(?:nothing|none|not|never)\s+(?!more)", "no ", m.group(0).strip())  # "backpacks no bigger than 30 l"
        if attribute.unit == "°C" and re.match(r"(?:drop|get|go|fall|cop|deal|handl|surviv|withstand|ok|fine|warm|comfy)", word):
            # "it can drop to about minus 3", "a bag that'll cope with minus 12": said back as the rating
            phrase = f"rated to {int(value) if value.is_integer() else value} °C"
        if _name_phrase(attribute.name) and (re.match(_name_phrase(attribute.name), phrase) or re.search(
                rf"\d\s*[a-z]*[\s-]*{_name_phrase(attribute.name)}$", phrase)):
            phrase = "with " + phrase  # "sleeping pads with r-value of 4 or more"
        return Constraint(attribute=attribute.name, op=op, value=int(value) if value.is_integer() else value,
                          phrase=phrase)

    def reason(self, product: Product, constraints: Iterable[Constraint] = (), sort: Sort | None = None, limit: int = 3) -> str:
        """A shopper-facing reason from the attributes the request is about ("sleeps 3 · 1.9 kg · 3-season")."""
        names = [c.attribute for c in constraints]
        if sort is not None:
            name = self.dimension_attribute(sort.dimension, [product])
            if name and name not in ("price", "rating"):
                names.insert(0, name)
        bits = [self.describe(name, value_of(product, name)) for name in dict.fromkeys(names)]
        return " · ".join([b for b in bits if b][:limit])

    def describe(self, name: str, value) -> str:
        """One attribute value in words: "1.9 kg", "sleeps 3", "rated to -9 °C", "waterproof"."""
        if value is None:
            return ""
        attribute = self.attributes.get(name)
        label = attribute.label if attribute else name.replace("_", " ")
        if isinstance(value, bool):
            return label if value else f"not {label}"
        if isinstance(value, (int, float)):
            unit = attribute.unit if attribute else ""
            if unit == "g" and value >= 1000:
                return f"{value / 1000:.2f}".rstrip("0").rstrip(".") + " kg"
            if unit == "people":
                return f"sleeps {value:g}" if "tent" in label or label == "capacity" else f"{value:g} people"
            if unit == "°C":
                return f"rated to {value:g} °C"
            if unit == "season":
                return f"{value:g}-season"
            if unit:
                return f"{value:g} {unit}"
            return f"{label} {value:g}"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value[:3])
        return f"{label}: {value}"


_OWN_PARSERS = {"colour", "color", "colours", "colors", "size", "sizes"}  # read by the query parser's colour and size rules
MIN_ENUM_COUNT = 4  # products that must state a text attribute before its words count as values
MAX_ENUM_VALUES = 30  # more distinct words than this and an attribute is free text, not an enumeration
_NOT_VALUES = {"down", "up", "in", "on", "out", "off", "none", "other", "no", "yes", "regular", "standard", "one", "all",
               "got", "get", "any", "max", "min", "top", "best", "new", "more", "less", "like", "just", "only", "very",
               # modifiers inside free-text values ("full-grain leather", "cast iron", "hard-anodized"): no condition alone
               "full", "hard", "soft", "fill", "blend", "coated", "grain", "cast", "engineered", "shell", "power",
               "weight", "light", "heavy", "thick", "thin", "double", "single", "high", "with", "and"}


_IRREGULAR = {"man": "men", "woman": "women"}
# "no down", "not synthetic", "she hates synthetic stuff": words before a value the shopper rules out
_RULING_OUT = (r"(?:no|not|non|without|nothing|avoid(?:ing)?|hates?|dislikes?|(?:do|does)n'?t (?:want|like)|"
               r"can'?t (?:stand|do|wear)|allergic to|not a fan of)")
_HIGHEST = ("max", "maximum", "high", "highest", "extra")  # the value of an attribute's most ("max" cushioning)
_NEVER_RULED_OUT = {"no", "yes", "none", "other", "and", "with", "the", "for", "all", "any", "one"}
_CLASS_UNITS = {"person", "man", "p"}  # "for man" is the men's range


def _misspelt_in(word: str, said: set[str]) -> bool:
    """Is one of the words `said` a misspelling of `word` (close to it, and no English word itself)?"""
    return len(word) >= 4 and any(len(w) >= 3 and w not in english_words() and SequenceMatcher(None, word, w).ratio() >= 0.8
                                  for w in said)


def _words(text: str) -> set[str]:
    """A text's words, singular and without "'s" or "-ing", for matching catalog values ("camping" ~ "camp")."""
    out = set()
    for w in re.findall(r"[a-z]+", text.lower().replace("'s", "")):
        if len(w) > 4 and w.endswith("ing"):
            w = w[:-3]
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(_IRREGULAR.get(w, w))
    return out


def _unit_of(name: str) -> tuple[str, tuple[tuple[str, float], ...]]:
    if name in _NAMED_UNITS:
        unit, words = _NAMED_UNITS[name]
        return unit, tuple(words.items())
    suffix = name.rsplit("_", 1)[-1] if "_" in name else ""
    if suffix in _UNITS:
        unit, words = _UNITS[suffix]
        return unit, tuple(words.items())
    return "", ()


# "more than", "lighter than", "nothing bigger than", "no heavier than": a comparison with a number; a negated
# comparative is a bound the other way ("nothing bigger than 30 litres" = at most 30)
_LARGER = r"more|bigger|larger|heavier|longer|taller|wider|higher|brighter|over"
_SMALLER = r"less|fewer|smaller|lighter|shorter|narrower|lower|thinner|under"
_COMPARATIVE = rf"(?:(?:nothing|none|no|not|never)\s+)?(?:{_LARGER}|{_SMALLER})\s+th[ae]n"


def _number_pattern(attribute: Attribute) -> re.Pattern[str]:
    words = sorted((w for w, _ in attribute.unit_words), key=len, reverse=True)
    unit = "|".join(re.escape(w) for w in words)
    cmp = (rf"(?P<cmp>(?:{_COMPARATIVE}|under|below|at\s+most|max(?:imum)?|up\s+to|over|above|at\s+least|min(?:imum)?|"
           r"rated\s+(?:to|for|down\s+to|at)|down\s+to|comfort(?:able)?\s+(?:to|at)|for|to|sleeps|fits)\s+)?")
    lead = r"(?:(?<=\s)|(?<=^)|(?<=\())"
    if attribute.unit == "people":  # "for 3 people", "3-person", "a 2p tent", "sleeps 3"
        return re.compile(
            rf"{lead}(?:(?P<sl>sleeps|fits)\s+|(?P<cmp>(?:for|at\s+least)\s+))?(?P<neg>)(?P<num>\d+)"
            rf"(?(sl)(?:[\s-]*(?P<unit>{unit}))?|[\s-]*(?P<unit2>{unit}))(?![a-z])(?P<post>\s*(?:\+|or\s+more|plus))?"
        )
    if attribute.unit == "°C":  # "rated to -10" needs no unit
        return re.compile(
            # "rated to -10", "good to minus 5", "it can drop to about minus 3 at night"
            rf"{lead}(?:(?P<cmp>(?:rated|good|comfort(?:able)?)\s+(?:to|for|down\s+to|at|below|under)\s+(?:at\s+least\s+)?|down\s+to\s+|"
            rf"(?:(?:drops?|dropping|gets?|getting|goes|going|falls?|falling)\s+(?:down\s+)?(?:to|below)|"
            # "a bag that'll cope with minus 12", "can it handle -5", "fine at minus 8"
            rf"(?:cope|copes|coping|deal|deals|dealing)\s+with|handles?|handling|survives?|withstands?|"
            rf"(?:ok|okay|fine|warm|comfy)\s+(?:at|in|for|to|down\s+to))\s+(?:about\s+|around\s+)?"
            rf"(?=-|minus\s|−|\d+(?:\.\d+)?\s*(?:°|degrees)))(?P<neg>-|minus\s+|−)?"
            rf"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>{unit})?|{cmp.replace('cmp', 'cmp_u')}(?P<neg_u>-|minus\s+|−)?"
            rf"(?P<num_u>\d+(?:\.\d+)?)\s*(?P<unit_u>{unit}))(?![a-z²])"
        )
    return re.compile(
        rf"{lead}{cmp}(?P<neg>-|minus\s+|−)?(?P<num>\d+(?:\.\d+)?)[\s-]*(?P<unit>{unit})(?![a-z²])"
        rf"(?P<post>\s*(?:\+|or\s+(?:more|over|above|bigger|larger|brighter|longer|higher|less|under|below|smaller|lighter|shorter|lower)|plus|max(?:imum)?|at\s+most|tops|min(?:imum)?|at\s+least))?"
    )


# superlative adjective -> the noun an attribute name uses for it, and whether more is better
_ADJECTIVE_NOUNS = {
    "deepest": ("depth", True), "deeper": ("depth", True), "shallowest": ("depth", False), "shallower": ("depth", False),
    "longest": ("length", True), "longer": ("length", True), "shortest": ("length", False), "shorter": ("length", False),
    "widest": ("width", True), "wider": ("width", True), "narrowest": ("width", False), "narrower": ("width", False),
    "tallest": ("height", True), "taller": ("height", True),
}
_ADJECTIVE_SUPERLATIVE = re.compile(rf"\b({'|'.join(_ADJECTIVE_NOUNS)})\b(?!\s+th[ae]n\b)")
_MOST = {"most", "highest", "largest", "biggest", "greatest", "max", "maximum", "best", "top", "longest", "more", "higher"}
_LEAST = {"least", "lowest", "smallest", "fewest", "min", "minimum", "shortest", "less", "lower", "fastest", "quickest"}
_GENERIC_NAME_WORDS = {"rating", "count", "size", "level", "type", "value", "time"}


def _name_phrase(name: str) -> str:
    """A regex for the words of a numeric attribute's name without its unit ("r_value" -> "r[\\s-]*value")."""
    tokens = name.split("_")
    if len(tokens) > 1 and (tokens[-1] in _UNITS or tokens[-1] in ("c", "f", "l")):
        tokens = tokens[:-1]
    if not tokens or tokens == ["capacity"] or tokens == ["weight"]:  # said with units, and by the synonyms
        return ""
    return r"[\s-]*".join(re.escape(t) for t in tokens)


def _count_pattern(attribute: Attribute) -> re.Pattern[str]:
    """"2 doors", "at least 2 vestibules", "a 10-piece set": a number before the attribute's own name."""
    cmp = (r"(?P<cmp>(?:under|below|less\s+than|at\s+most|max(?:imum)?|up\s+to|no\s+more\s+than|over|above|more\s+than|"
           r"at\s+least|min(?:imum)?)\s+)?")
    return re.compile(rf"(?:(?<=\s)|(?<=^)){cmp}(?P<neg>)(?P<num>\d+)[\s-]*(?P<count>{re.escape(attribute.name.removesuffix('s'))})s?"
                      rf"(?P<unit>)(?![a-z])(?P<post>\s*(?:\+|or\s+more|plus))?")


def _number_before_name_pattern(attribute: Attribute) -> re.Pattern[str]:
    """"0 drop", "800 fill power", "5 mm lug depth": a number (and unit) right before the attribute's name."""
    words = sorted((w for w, _ in attribute.unit_words), key=len, reverse=True)
    unit = rf"(?:[\s-]*(?P<unit>{'|'.join(re.escape(w) for w in words)}))?" if words else r"(?P<unit>)"
    cmp = (r"(?P<cmp>(?:under|below|less\s+than|at\s+most|max(?:imum)?|up\s+to|no\s+more\s+than|over|above|more\s+than|"
           r"at\s+least|min(?:imum)?)\s+)?")
    return re.compile(rf"(?:(?<=\s)|(?<=^)){cmp}(?P<neg>-|minus\s+|−)?(?P<num>\d+(?:\.\d+)?){unit}[\s-]*"
                      rf"{_name_phrase(attribute.name)}(?![a-z])(?P<post>\s*(?:\+|or\s+(?:more|less)|plus))?")


def _named_number_pattern(attribute: Attribute) -> re.Pattern[str]:
    words = sorted((w for w, _ in attribute.unit_words), key=len, reverse=True)
    unit = "|".join(re.escape(w) for w in words)
    unit_group = rf"(?:[\s-]*(?P<unit>{unit}))?" if unit else r"(?P<unit>)"
    cmp = (r"(?P<cmp>(?:under|below|less\s+than|at\s+most|max(?:imum)?|up\s+to|no\s+more\s+than|not\s+more\s+than|over|"
           r"above|more\s+than|at\s+least|min(?:imum)?|higher\s+than|lower\s+than)\s+)?")
    post = (r"(?P<post>\s*(?:\+|or\s+(?:more|over|above|higher|bigger|larger|less|under|below|lower|smaller)|plus|max(?:imum)?|"
            r"at\s+most|tops|min(?:imum)?|at\s+least))?")
    return re.compile(rf"\b{_name_phrase(attribute.name)}\s*(?:of|:|=|is|at)?\s*{cmp}(?P<neg>-|minus\s+|−)?"
                      rf"(?P<num>\d+(?:\.\d+)?){unit_group}(?![a-z²\d]){post}")


def _superlative_pattern(attribute: Attribute, firsts: list[str]) -> re.Pattern[str]:
    """"most/highest ... <name>": the whole name, or its first word when no other attribute starts with it (an
    "-ability" word also as its adjective)."""
    phrase = _name_phrase(attribute.name)
    first = phrase.split(r"[\s-]*")[0]
    alone = firsts.count(first) == 1 and len(first) >= 4 and first not in _GENERIC_NAME_WORDS
    words = "|".join(sorted(_MOST | _LEAST, key=len, reverse=True))
    said = [phrase] + ([first] if alone else [])
    if alone and first.endswith("ability"):  # "breathability": "the most breathable"
        said.append(first[: -len("ability")] + "able")
    # "the smallest heel-to-toe drop": up to two words between
    return re.compile(rf"\b(?P<dir>{words})\s+(?:(?!th[ae]n\b)[a-z][\w-]*\s+){{0,2}}?(?:{'|'.join(said)})\b")


def _bool_pattern(name: str) -> re.Pattern[str]:
    """The words of a boolean attribute's name; a trailing generic word is optional ("induction [compatible]"); a
    "-proof" name is also said as the thing not happening ("won't leak"), an "-able" one as the verb ("packs down small"),
    a "-safe" one as where it may go ("can go in the dishwasher"), a "free-...ing" one as the verb unaided ("stands
    up on its own")."""
    tokens = name.split("_")
    generic = {"compatible", "included", "safe", "resistant", "friendly", "ready"}
    if len(tokens) > 1 and tokens[-1] in generic and tokens[-1] != "safe":
        core = r"[\s-]+".join(re.escape(t) for t in tokens[:-1])
        return re.compile(rf"\b{core}(?:[\s-]+{re.escape(tokens[-1])})?\b")
    said = r"[\s-]+".join(re.escape(t) for t in tokens)
    word = tokens[-1] if len(tokens) == 1 else ""
    if len(word) > 7 and word.endswith("proof"):  # leakproof: "leak-proof", "won't leak", "doesn't leak", "no leaks"
        stem = re.escape(word[:-5])
        said += (rf"|\b{stem}[\s-]proof|\b(?:won'?t|will not|doesn'?t|does not|never|don'?t|do not)\s+(?:ever\s+)?{stem}s?"
                 rf"|\bno\s+{stem}s\b")
    elif len(word) > 8 and word.startswith("free") and word.endswith("ing"):  # freestanding: "stands up on its own"
        verb = re.escape(word[4:-3])
        said += (rf"|\b{verb}(?:s|ing)?(?:\s+up)?\s+(?:on\s+(?:its|their)\s+own|by\s+(?:it|them)sel(?:f|ves)|unsupported|"
                 rf"without\s+(?:any\s+)?(?:pegs|stakes|support))")
    elif len(tokens) == 2 and tokens[1] == "safe":  # dishwasher_safe: "can go in the dishwasher", "safe in the oven"
        said += (rf"|\b(?:go|goes|going|put|pop|stick|chuck|throw|safe)\s+(?:it\s+|them\s+)?in(?:to)?\s+(?:the\s+)?"
                 rf"{re.escape(tokens[0])}")
    elif len(word) > 6 and word.endswith("able"):  # packable: "packs down small", "folds flat"
        stem = re.escape(word[:-4])
        said += rf"|\b{stem}(?:s|es)?\s+(?:(?:right|really)\s+)?(?:down|away|small|flat|up small)"
    return re.compile(r"\b(?:" + said + r")\b")
