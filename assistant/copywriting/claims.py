"""Faithfulness of product copy: find the checkable claims in a text and check each against the product.

A *claim* is something a shopper could hold the shop to: a number with a unit ("450 g", "20 L", "12\""),
a bare number or model code ("2-person", "XR500"), a size ("XL", "queen"), a material, a colour, a
certification ("CertiPUR-US", "IPX7"), a named feature ("waterproof", "Bluetooth", "dishwasher safe"; also
negated: "not waterproof") or a name (a capitalised word mid-sentence: a brand, model or place). A name introduced as the maker ("by X",
"made by X", "from X") is a *maker* claim: only the record's brand supports it, so a size, colour or
material ("by Queen", "from Black") is never a maker even though the record names it.
Every word of the copy must be English (in the system's `wamerican`/`wbritish` word lists, or a regular
inflection of a word there) or appear in the record; any other word is a *nonword* ("redemitted").
Separately, `restatements` finds sentences that repeat the title or a bullet nearly verbatim (the title cut
into sentences, a bullet copied with a label): not false, but not copy a shop would publish.
A claim is *supported* when the product record states it: quantities are compared by value after unit
conversion (within 2 %), so "weighs 0.45 kg" is supported by `weight_g: 450` and "weighs 520 g" is not;
words and phrases must appear (after spelling normalisation: grey/gray, aluminium/aluminum) in the
record's text, or be a true boolean attribute (`waterproof: true`).

Subjective praise ("stylish", "great value") is not a claim here: nothing in a record can confirm it.
The lexicons are English; numbers and units are checked in any language.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import BaseModel

from assistant.errors import AssistantError
from retrieval.catalog import Product
from text import split_sentences  # re-exported: `check_text`'s sentence indexes refer to it
from text.dictionary import english_words, missing_word_lists

logger = logging.getLogger(__name__)

__all__ = [
    "Claim",
    "DictionaryMissingError",
    "Evidence",
    "check_text",
    "drop_unsupported",
    "extract_claims",
    "is_word",
    "restatements",
    "split_sentences",
]


# ---------------------------------------------------------------- units: name -> (dimension, factor to base)
_UNITS: dict[str, tuple[str, float]] = {}


def _unit(dimension: str, factor: float, *names: str) -> None:
    for name in names:
        _UNITS[name] = (dimension, factor)


_unit("mass", 1.0, "g", "gr", "gram", "grams", "gramme", "grammes")
_unit("mass", 1000.0, "kg", "kgs", "kilo", "kilos", "kilogram", "kilograms")
_unit("mass", 0.001, "mg", "milligram", "milligrams")
_unit("mass", 453.592, "lb", "lbs", "pound", "pounds")
_unit("mass", 28.3495, "oz", "ounce", "ounces")
_unit("volume", 1.0, "ml", "millilitre", "millilitres", "milliliter", "milliliters")
_unit("volume", 10.0, "cl")
_unit("volume", 1000.0, "l", "litre", "litres", "liter", "liters", "ltr")
_unit("volume", 3785.41, "gal", "gallon", "gallons")
_unit("volume", 29.5735, "fl oz", "fl. oz", "fluid ounce", "fluid ounces")
_unit("volume", 946.353, "qt", "quart", "quarts")
_unit("length", 1.0, "mm", "millimetre", "millimetres", "millimeter", "millimeters")
_unit("length", 10.0, "cm", "centimetre", "centimetres", "centimeter", "centimeters")
_unit("length", 1000.0, "m", "metre", "metres", "meter", "meters")
_unit("length", 1_000_000.0, "km", "kilometre", "kilometres", "kilometer", "kilometers")
_unit("length", 25.4, "in", "inch", "inches", '"', "”", "″")
_unit("length", 304.8, "ft", "foot", "feet", "′")
_unit("length", 914.4, "yd", "yard", "yards")
_unit("power", 1.0, "w", "watt", "watts")
_unit("power", 1000.0, "kw", "kilowatt", "kilowatts")
_unit("voltage", 1.0, "v", "volt", "volts")
_unit("charge", 1.0, "mah")
_unit("charge", 1000.0, "ah")
_unit("energy", 1.0, "wh")
_unit("storage", 1.0, "gb", "gigabyte", "gigabytes")
_unit("storage", 0.001, "mb", "megabyte", "megabytes")
_unit("storage", 1000.0, "tb", "terabyte", "terabytes")
_unit("time", 1.0, "sec", "secs", "second", "seconds")
_unit("time", 60.0, "min", "mins", "minute", "minutes")
_unit("time", 3600.0, "h", "hr", "hrs", "hour", "hours")
_unit("time", 86400.0, "day", "days")
_unit("time", 604800.0, "week", "weeks")
_unit("time", 2_629_800.0, "month", "months")
_unit("time", 31_557_600.0, "year", "years", "yr", "yrs")
_unit("celsius", 1.0, "°c", "ºc", "degrees c", "degrees celsius")
_unit("fahrenheit", 1.0, "°f", "ºf", "degrees f", "degrees fahrenheit")
_unit("percent", 1.0, "%", "percent")
_unit("density", 1.0, "ppi")
_unit("dpi", 1.0, "dpi")
_unit("frequency", 1.0, "hz")
_unit("frequency", 1000.0, "khz")
_unit("frequency", 1e6, "mhz")
_unit("frequency", 1e9, "ghz")
_unit("rate", 1.0, "mbps")
_unit("rate", 1000.0, "gbps")
_unit("pressure", 1.0, "psi")
_unit("pressure", 14.5038, "bar")
_unit("areal", 1.0, "gsm", "g/m2", "g/m²")
_unit("area", 1.0, "m2", "m²", "sq m", "square metres", "square meters")
_unit("speed", 1.0, "rpm")
_unit("speed_kmh", 1.0, "km/h", "kph")
_unit("speed_mph", 1.0, "mph")
_unit("decibel", 1.0, "db")
_unit("lumen", 1.0, "lm", "lumen", "lumens")
_unit("karat", 1.0, "karat", "carat", "kt", "ct gold")
_unit("resolution", 1.0, "p")  # 1080p
_unit("resolution_k", 1.0, "k")  # 4K
_unit("count", 1.0, "pack", "pk", "pcs", "pc", "piece", "pieces", "count", "ct", "person", "people", "seater",
      "pair", "pairs", "set", "sets", "colours", "colors", "layers", "layer", "pockets", "pocket", "speeds", "modes")

# attribute keys that carry their unit as a suffix: weight_g, capacity_l, length_cm, battery_mah, ...
_KEY_SUFFIX = re.compile(r"(?:^|_)(g|kg|mg|lb|lbs|oz|ml|l|cl|mm|cm|m|in|ft|w|kw|v|mah|wh|gb|tb|h|hours|min|sec|"
                         r"c|f|pct|percent|gsm|g_m2|m2|db|lm|lumens|years|months|days|persons|people)$")
_SUFFIX_UNIT = {"pct": "%", "c": "°c", "f": "°f", "hours": "h", "g_m2": "gsm", "persons": "person"}

_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?|\.\d+"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True) if u != "in")
# "in" is a unit only where it cannot be the preposition: "12 in.", "12 in x 8 in", "12 in wide"
_INCH = r"in(?=\.|\s*[x×,;)]|\s*$|\s+(?:wide|long|high|tall|deep|thick|diameter|screen|display|width|length|height|depth)\b)"
# a number (or range, or dimensions "10 x 20") followed by a unit
_QUANTITY = re.compile(
    rf"(?<![\w.])(?P<nums>(?:{_NUM})(?:\s*(?:-|–|to|x|×)\s*(?:{_NUM}))*)\s*-?\s*"
    rf"(?P<unit>{_UNIT_ALT}|{_INCH})(?=$|[^\w])",
    re.IGNORECASE,
)
_NUMBER = re.compile(rf"(?<![\w.])(?:{_NUM})")
_ALNUM_WITH_DIGIT = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[a-zA-Z])[\w-]+\b")

# ---------------------------------------------------------------- word lexicons (normalised spelling)
_MATERIALS = [
    "cotton", "organic cotton", "polyester", "recycled polyester", "nylon", "ripstop nylon", "leather",
    "genuine leather", "faux leather", "vegan leather", "suede", "nubuck", "wool", "merino wool", "merino",
    "cashmere", "silk", "linen", "bamboo", "hemp", "denim", "canvas", "fleece", "polar fleece", "down",
    "goose down", "duck down", "synthetic insulation", "primaloft", "gore tex", "neoprene", "spandex",
    "elastane", "lycra", "acrylic", "rayon", "viscose", "modal", "polypropylene", "polyethylene", "pvc",
    "tpu", "eva", "eva foam", "memory foam", "foam", "latex", "rubber", "natural rubber", "silicone",
    "plastic", "abs", "abs plastic", "polycarbonate", "acrylic glass", "glass", "tempered glass",
    "borosilicate glass", "ceramic", "porcelain", "stoneware", "earthenware", "stainless steel",
    "carbon steel", "steel", "cast iron", "iron", "aluminum", "anodized aluminum", "titanium", "copper",
    "brass", "bronze", "zinc", "chrome", "carbon fiber", "fiberglass", "wood", "solid wood", "hardwood",
    "oak", "walnut", "pine", "beech", "birch", "maple", "teak", "acacia", "mahogany", "cherry wood",
    "plywood", "mdf", "bamboo wood", "cork", "paper", "cardboard", "marble", "granite", "stone", "concrete",
    "velvet", "microfiber", "jersey", "twill", "tweed", "corduroy", "mesh", "jute", "rattan", "wicker",
]
_COLOURS = [
    "black", "white", "gray", "charcoal", "silver", "gold", "red", "burgundy", "maroon", "pink", "magenta",
    "purple", "violet", "lavender", "lilac", "blue", "navy", "navy blue", "royal blue", "sky blue", "light blue",
    "dark blue", "teal", "turquoise", "aqua", "cyan", "green", "olive", "olive green", "khaki", "lime",
    "mint", "forest green", "dark green", "yellow", "mustard", "orange", "coral", "peach", "brown",
    "chocolate", "tan", "beige", "camel", "taupe", "ivory", "off white", "cream", "natural", "bronze",
    "copper", "rose gold", "multicolor", "multicolour", "rainbow", "transparent", "clear",
]
_CERTIFICATIONS = [
    "certipur us", "oeko tex", "oeko tex standard 100", "gots", "fsc", "fsc certified", "energy star", "bpa free",
    "rohs", "fcc", "ce", "ce certified", "ul", "ul listed", "ul certified", "etl", "etl listed", "nsf",
    "nsf certified", "fda", "fda approved", "fda registered", "usda organic", "bluesign", "fair trade",
    "fairtrade", "greenguard", "leed", "iso", "tuv", "reach", "prop 65", "cruelty free", "leaping bunny",
    "dermatologically tested", "clinically proven", "lead free", "phthalate free", "pfas free", "pfc free",
    "pfoa free", "non toxic", "food grade", "medical grade", "military grade", "ansi", "astm",
]
_FEATURES = [
    "waterproof", "water resistant", "water repellent", "windproof", "wind resistant", "breathable",
    "insulated", "thermal", "heated", "wireless", "bluetooth", "wifi", "nfc", "gps", "rechargeable",
    "cordless", "battery powered", "solar powered", "solar", "usb", "usb c", "micro usb", "hdmi", "led",
    "lcd", "oled", "touchscreen", "touch screen", "voice control", "alexa", "google assistant",
    "app controlled", "smart", "dishwasher safe", "microwave safe", "oven safe", "freezer safe",
    "machine washable", "hand wash", "non stick", "nonstick", "uv protection", "uv resistant", "upf",
    "noise cancelling", "active noise cancelling", "anc", "foldable", "folding", "collapsible",
    "adjustable", "reversible", "removable", "detachable", "portable", "lightweight", "ultralight",
    "quick dry", "quick drying", "moisture wicking", "anti slip", "non slip", "slip resistant",
    "stain resistant", "scratch resistant", "shockproof", "shock resistant", "dustproof", "fire resistant",
    "flame retardant", "fireproof", "hypoallergenic", "antibacterial", "antimicrobial", "organic", "vegan",
    "gluten free", "sugar free", "recycled", "recyclable", "biodegradable", "compostable", "handmade",
    "hand made", "handcrafted", "wrinkle free", "wrinkle resistant", "odor resistant", "anti odor",
    "stretch", "waterproof zipper", "hood", "hooded", "zipper", "pockets", "magnetic", "washable",
    "ergonomic", "lockable", "stackable", "wall mounted", "warranty", "lifetime warranty", "guarantee",
    "money back guarantee", "free shipping", "free returns", "assembly required", "no assembly", "refillable",
    "reusable", "disposable", "leak proof", "leakproof", "spill proof", "airtight", "bpa", "4k", "hd",
    "full hd", "ultra hd", "hdr", "surround sound", "stereo", "mono", "sweatproof", "sweat resistant",
    "eco friendly", "environmentally friendly", "sustainable", "sustainably sourced", "carbon neutral",
    "all natural", "natural ingredients", "non gmo", "kosher", "halal", "made in usa",
    "hand crafted", "limited time", "limited edition", "award winning", "best selling", "bestseller", "patented",
    "professional grade", "commercial grade", "genuine",
]
_SIZES = [
    "xxs", "xs", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "5xl", "extra small", "extra large", "small",
    "medium", "large", "one size", "twin", "twin xl", "full", "queen", "king", "california king", "cal king",
    "petite", "plus size", "kids", "toddler", "infant", "newborn", "youth", "adult", "unisex", "men's",
    "women's", "mens", "womens", "boys", "girls",
]
_LEXICON: dict[str, str] = {}
for _kind, _words in (("size", _SIZES), ("colour", _COLOURS), ("feature", _FEATURES),
                      ("certification", _CERTIFICATIONS), ("material", _MATERIALS)):
    for _w in _words:
        _LEXICON.setdefault(_w, _kind)
# Words too ambiguous to count when they stand alone in prose ("full of", "a large room", "smart look").
_PROSE_AMBIGUOUS = {"full", "small", "medium", "large", "smart", "natural", "clear", "stretch", "solar", "thermal",
                    "mono", "reach", "iso", "ce", "ul", "abs", "eva", "down", "stone", "paper", "folding", "adult",
                    "kids", "youth", "set"}
_LEXICON_RE = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(_LEXICON, key=len, reverse=True)) + r")\b"
)
_CODES = re.compile(r"\b(ip[x\d]\d|ipx\d|iso \d{3,5}|en \d{3,5}|upf \d+|spf \d+)\b")

# Spelling variants folded before matching, applied to both the copy and the record.
_SPELLING = [
    (r"aluminium", "aluminum"), (r"\bgrey\b", "gray"), (r"colour", "color"), (r"\bfibre", "fiber"),
    (r"cancel+ing", "cancelling"), (r"\bwi fi\b", "wifi"), (r"\btype c\b", "c"), (r"\bodour", "odor"),
    (r"\bmulti color(ed)?\b", "multicolor"), (r"\banodised\b", "anodized"), (r"\bwater proof\b", "waterproof"),
    (r"\bnon toxic\b", "non toxic"), (r"\bmen s\b", "men's"), (r"\bwomen s\b", "women's"),
    (r"\bstainless\b(?! steel)", "stainless steel"), (r"\bmade in the (usa|us|united states)\b", "made in usa"),
]
_SPELLING_RE = [(re.compile(p), r) for p, r in _SPELLING]


def normalise(text: str) -> str:
    """Lowercase, unify quotes/dashes and spelling variants, hyphens and underscores become spaces."""
    text = text.lower().replace("\u2019", "'").replace("‘", "'")
    text = re.sub(r"(?<=[a-z])[-_/](?=[a-z])", " ", text)
    text = re.sub(r"(?<=[a-z])-(?=\d)|(?<=\d)-(?=[a-z])", " ", text)
    text = re.sub(r"(?<=[a-z])'s\b", "'s", text)
    for pattern, repl in _SPELLING_RE:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text)


def _to_float(number: str) -> float:
    return float(number.replace(",", ""))


# ---------------------------------------------------------------- claims


class Claim(BaseModel):
    """One checkable statement found in copy."""

    text: str  # as written, e.g. "450 g"
    kind: str  # quantity | number | size | material | colour | certification | feature
    supported: bool
    sentence: int = 0  # index into split_sentences(copy)


@dataclass
class Evidence:
    """What a product record states, prepared for checking: its normalised text, tokens and quantities."""

    text: str
    tokens: set[str] = field(default_factory=set)
    numbers: set[float] = field(default_factory=set)
    quantities: dict[str, list[float]] = field(default_factory=dict)  # dimension -> values in base units
    true_flags: set[str] = field(default_factory=set)  # boolean attributes that are true, normalised key
    false_flags: set[str] = field(default_factory=set)  # ... and false: naming one in copy is a false claim
    brand: str = ""  # normalised; the only name a maker claim ("by X") may name
    lines: list[list[str]] = field(default_factory=list)  # each part of the record as normalised words (what is near what)
    kind_words: set[str] = field(default_factory=set)  # stems of what the product is: title, text, categories below the top
    sources: list[list[str]] = field(default_factory=list)  # title and each bullet as word lists (restatements)

    @classmethod
    def of(cls, product: Product) -> Evidence:
        """Everything the record says: title, brand, category, description, bullets, attributes, variants."""
        parts = [product.title, product.brand or "", " ".join(product.category), product.description]
        parts += product.bullets
        ev = cls(text="", brand=normalise(product.brand or "").strip())
        ev.sources = [w for w in (_words(x) for x in [product.title, *product.bullets]) if w]
        for key, value in product.attributes.items():
            name = normalise(key)
            if isinstance(value, bool):
                (ev.true_flags if value else ev.false_flags).add(name)
                if value:
                    parts.append(name)
                continue
            values = value if isinstance(value, list) else [value]
            parts.append(f"{name}: {', '.join(str(v) for v in values)}")
            suffix = _KEY_SUFFIX.search(key.lower())
            if suffix and isinstance(value, int | float):
                unit = _SUFFIX_UNIT.get(suffix.group(1), suffix.group(1))
                dimension, factor = _UNITS[unit]
                ev.quantities.setdefault(dimension, []).append(float(value) * factor)
        for v in product.variants:
            parts += [v.size or "", v.colour or ""]
            if v.price is not None:
                ev.numbers.add(round(v.price, 2))
        for number in (product.price, product.rating, product.rating_count):
            if number is not None:
                ev.numbers.add(round(float(number), 2))
        ev.text = normalise(" \n ".join(p for p in parts if p))
        kinds = [product.title, product.description, *product.bullets, *product.category[1:]]  # "Musical Instruments" is a department
        ev.kind_words = {_stem(t) for t in re.findall(r"[\w'-]+", normalise(" ".join(kinds)))}
        ev.lines = [re.findall(r"[\w'-]+", normalise(x)) for x in re.split(r"[\n.;!?|]+", " \n ".join(p for p in parts if p))]
        ev.tokens = {t.strip("-") for t in re.findall(r"[\w-]+", ev.text)}
        ev.tokens |= {w for flag in ev.false_flags for w in flag.split()}  # the record names them too
        ev.numbers |= {round(_to_float(n), 2) for n in _NUMBER.findall(ev.text)}
        for dimension, values in _quantities(ev.text):
            ev.quantities.setdefault(dimension, []).extend(values)
        return ev

    def has_phrase(self, phrase: str) -> bool:
        return phrase in self.true_flags or re.search(rf"\b{re.escape(phrase)}\b", self.text) is not None

    def has_quantity(self, dimension: str, value: float) -> bool:
        # signs are ignored: "-20 °C" reads as "20" in prose ranges like "10-20 L" too
        return any(abs(abs(value) - abs(known)) <= 0.02 * max(abs(value), abs(known)) + 1e-9
                   for known in self.quantities.get(dimension, []))


def _quantities(text: str) -> list[tuple[str, list[float]]]:
    found = []
    for m in _QUANTITY.finditer(text):
        dimension, factor = _UNITS[m.group("unit").lower()]
        values = [_to_float(n) * factor for n in re.findall(_NUM, m.group("nums"))]
        found.append((dimension, values))
    return found


def extract_claims(sentence: str, flags: set[str] = frozenset()) -> list[tuple[str, str]]:
    """The `(kind, text)` claims in one sentence, in order; `text` is the normalised claim.

    `flags` are extra feature names to look for (a product's boolean attributes, e.g. "hydration compatible").
    """
    norm = normalise(sentence)
    claims: list[tuple[int, str, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _QUANTITY.finditer(norm):
        claims.append((m.start(), "quantity", m.group(0).strip()))
        taken.append(m.span())
    for m in _CODES.finditer(norm):
        if not any(a <= m.start() < b for a, b in taken):
            claims.append((m.start(), "certification", m.group(0)))
            taken.append(m.span())
    for m in _ALNUM_WITH_DIGIT.finditer(norm):
        if not any(a <= m.start() < b for a, b in taken):
            claims.append((m.start(), "number", m.group(0)))
            taken.append(m.span())
    for m in _NUMBER.finditer(norm):
        if not any(a <= m.start() < b for a, b in taken):
            claims.append((m.start(), "number", m.group(0)))
            taken.append(m.span())
    for flag in sorted(flags, key=len, reverse=True):
        for m in re.finditer(rf"\b{re.escape(flag)}\b", norm):
            if not any(a <= m.start() < b for a, b in taken):
                claims.append((m.start(), "feature", _negated(norm, m.start()) + flag))
                taken.append(m.span())
    for m in _LEXICON_RE.finditer(norm):
        word = m.group(1)
        if any(a <= m.start() < b for a, b in taken) or word in _PROSE_AMBIGUOUS:
            continue
        kind = _LEXICON[word]
        if kind == "material" and _CONTRAST.search(norm[max(0, m.start() - 30) : m.start()]):
            continue  # "stronger than leather" says nothing of what it is made of
        claims.append((m.start(), kind, (_negated(norm, m.start()) if kind == "feature" else "") + word))
    words = {text for _, _, text in claims}
    for m in _NAME.finditer(sentence):  # capitalised mid-sentence words: brands, models, places
        name = normalise(m.group(0))
        after = sentence[: m.start()].rstrip()[-1:]  # capitalised after a full stop or colon: a sentence start
        if after and after not in '.!?:;"(-–|' and name not in _NOT_NAMES and not re.search(r"\d", name) and \
                not any(name in w for w in words):
            claims.append((len(norm) + m.start(), "name", name))
    return [(kind, text) for _, kind, text in sorted(claims)]


_NAME = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*[A-Za-z0-9](?![\w'’-])")
# capitalised for other reasons than being a name
_NOT_NAMES = {"i", "i'm", "i've", "you", "your", "it", "it's", "this", "the", "a", "an", "and", "with", "for", "our",
              "we", "english", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
              "christmas", "ok"}


_NEGATION = re.compile(r"\b(?:not|no|without|isn't|is not|non|never)\s+(?:\w+\s+){0,2}$")
# a material named only to contrast with it: "stronger than nylon or leather", "an alternative to leather"
_CONTRAST = re.compile(r"\b(?:than|non|not|no|without|unlike|instead of|alternative to|vs|versus|replaces?)\s+(?:[\w-]+\s+(?:or\s+|and\s+)?){0,2}$")


def _negated(norm: str, start: int) -> str:
    """"not " when the feature at `start` is negated ("not waterproof", "no hood", "without a rain cover")."""
    return "not " if _NEGATION.search(norm[max(0, start - 40) : start]) else ""


def _supported(kind: str, text: str, evidence: Evidence) -> bool:
    if text.startswith("not "):  # a negated feature: the record says it is false, or says "not ..." itself
        feature = text[4:]
        return feature in evidence.false_flags or (
            feature not in evidence.true_flags and _NEGATION.search(evidence.text.split(feature)[0][-40:] or "x") is not None
            and evidence.has_phrase(feature))
    if text in evidence.false_flags:
        return False
    if kind == "material":  # "stronger than leather", "non-leather", "BPA-free plastic" do not say it is leather
        return any(not _CONTRAST.search(evidence.text[max(0, m.start() - 30) : m.start()])
                   for m in re.finditer(rf"\b{re.escape(text)}\b(?!\s*(?:free|style|look|effect|like|feel|print|pattern|grain|texture)\b)",
                                        evidence.text))
    if evidence.has_phrase(text):  # stated in the same words
        return True
    if kind == "quantity":  # the same amount in any unit of the same dimension
        m = _QUANTITY.match(text)
        if m is None:
            return False
        dimension, factor = _UNITS[m.group("unit").lower()]
        return all(evidence.has_quantity(dimension, _to_float(n) * factor) for n in re.findall(_NUM, m.group("nums")))
    if kind == "number":  # a model code must appear as written; a bare number anywhere in the record
        if text in evidence.tokens:
            return True
        return _NUMBER.fullmatch(text) is not None and round(_to_float(text), 2) in evidence.numbers
    if kind == "name":
        return text in evidence.tokens or all(t in evidence.tokens for t in re.findall(r"[\w-]+", text))
    if kind == "colour" and text in ("multicolor", "multicolour"):
        return evidence.has_phrase("multi")
    return False


# ---------------------------------------------------------------- makers ("by X"), non-words, restatements

class DictionaryMissingError(AssistantError):
    """The system word lists the non-word check reads are not installed."""


# "by Ashley", "made by Signature Design", "from Motorola": a run of capitalised words after the maker cue
_MAKER = re.compile(
    r"(?<![\w'’-])(?P<cue>(?:(?:made|designed|manufactured|crafted|built|brought to you|produced|engineered)\s+)?"
    r"(?:by|from))\s+(?P<name>[A-Z0-9][\w'’&+.-]*(?:\s+(?:&\s+)?[A-Z0-9][\w'’&+.-]*)*)"
)
# "from" that is not about the maker: "choose from Black or Navy", "made from Cotton", "from 5 to 10 ..."
_FROM_NOT_MAKER = re.compile(
    r"\b(?:choose|choosing|select|selecting|pick|picking|range|ranging|made|crafted|built|cut|woven|away|far|"
    r"free|protection|protects?|shield|keeps?|apart|different|inspired|taken|sourced)\s*$", re.IGNORECASE)
_NEVER_BRANDS = {"size", "colour", "material"}  # lexicon kinds that name a property, never a maker


def _maker_supported(name: str, evidence: Evidence) -> bool:
    """A maker named in copy is the record's brand (all its words in the brand, or the brand then record words)."""
    words = name.split()
    brand = evidence.brand.split()
    if not brand:
        return False
    if set(words) <= set(brand):
        return True
    return words[: len(brand)] == brand and all(w in evidence.tokens for w in words[len(brand) :])


def _maker_claims(sentence: str, evidence: Evidence) -> list[tuple[str, str, bool]]:
    found = []
    for m in _MAKER.finditer(sentence):
        name = normalise(m.group("name")).strip(" .'")
        name = re.sub(r"'s$", "", name)
        if not name or name in _NOT_NAMES or re.fullmatch(r"[\d\s.,%-]+", name):
            continue
        cue = m.group("cue").lower()
        if cue == "from" and _FROM_NOT_MAKER.search(sentence[: m.start()]):
            continue
        never = _LEXICON.get(name) in _NEVER_BRANDS and name != evidence.brand
        if cue == "from" and not never and evidence.has_phrase(name) and not _maker_supported(name, evidence):
            # "from Texas", "from Europe": a place the record states, not a maker
            continue
        supported = not never and (_maker_supported(name, evidence) or (
            cue != "from" and evidence.has_phrase(f"{cue.split()[-1]} {name}")))  # "by Ashley" in the record
        found.append(("maker", f"{cue.split()[-1]} {name}", supported))
    return found


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    missing = missing_word_lists()
    if missing:
        raise DictionaryMissingError(
            f"Word list(s) {missing} not found: the non-word check needs Debian's wamerican and wbritish. "
            "Install them with `make system-deps` (or `apt-get install wamerican wbritish`)."
        )
    words = set(english_words())
    # the checker's own vocabulary (bluetooth, usb, hdmi, certipur, ...) is English for this purpose
    for phrase in _LEXICON:
        words.update(phrase.split())
    return frozenset(words)


# regular inflections and derivations, tried when a word is not in the lists as written
_SUFFIXES = ("'s", "s", "es", "ed", "d", "ing", "er", "ers", "est", "ly", "ness", "able", "ible", "ful", "less",
             "ity", "ize", "ise", "ized", "ised", "ment", "ments", "ish", "y", "ation", "ations", "ion", "ions", "al",
             "ally", "ive")
_PREFIXES = ("un", "non", "pre", "multi", "anti", "over", "under", "super", "ultra", "eco", "micro", "mini", "self",
             "semi", "extra", "dual", "tri", "bi", "all", "hand")


def is_word(word: str) -> bool:
    """Whether `word` (lowercase letters) is English: in the word lists, or a regular inflection of a word there.

    Raises:
        DictionaryMissingError: the word lists are not installed.
    """
    words = _dictionary()
    if word in words:
        return True
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            if stem in words or stem + "e" in words or (len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in words):
                return True
            if suffix in ("ied", "ies", "ily", "iness") or stem.endswith("i") and stem[:-1] + "y" in words:
                return True
    for prefix in _PREFIXES:  # not "re": "redemitted" must not pass as re- + "demitted"
        if word.startswith(prefix) and len(word) - len(prefix) >= 3 and is_word_plain(word[len(prefix) :]):
            return True
    return False


def is_word_plain(word: str) -> bool:
    words = _dictionary()
    return word in words or any(word.endswith(s) and word[: -len(s)] in words for s in ("s", "es", "ed", "ing", "ly"))


# bound prefixes written with a hyphen ("pre-washed", "co-founder"); the lists hold them only inside words
_HYPHEN_PREFIXES = {"pre", "non", "multi", "anti", "eco", "co", "self", "semi", "mid", "sub", "re", "un", "bi", "tri",
                    "ultra", "mini", "micro", "inter", "post", "over", "under", "ll", "ve"}

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def _words(text: str) -> list[str]:
    """Lowercase words of `text` (normalised spelling), digits and punctuation left out."""
    return _WORD.findall(normalise(text))


def _nonword_claims(sentence: str, evidence: Evidence) -> list[tuple[str, str, bool]]:
    found = []
    for m in re.finditer(r"(?<![\w-])[^\W\d_][\w'’-]*", sentence):
        token = m.group(0).rstrip("'’-")
        if re.search(r"\d", token):  # model codes are checked as numbers
            continue
        token = re.sub(r"n['’]t$", "", token)  # doesn't -> does
        for part in re.split(r"[\s'’-]+", normalise(token)):
            if len(part) < 3 or part in _HYPHEN_PREFIXES:
                continue
            if part in evidence.tokens or is_word(part):
                continue
            found.append(("nonword", part, False))
    return found


# "X is a <adjectives> <kind> that/with/for ...": the kind the copy says the product is
_PREDICATE = re.compile(r"\b(?:is|are)\s+(?:a|an)\s+(?P<phrase>[^.;:!?()]+)", re.I)
_PHRASE_END = {"that", "which", "who", "whose", "with", "without", "for", "to", "of", "in", "into", "from", "designed",
               "made", "by", "on", "at", "featuring", "offering", "built", "crafted", "where", "when", "than", "it", "its",
               "they", "you", "your", "this", "these", "while", "so", "as", "like", "such", "perfect", "ideal", "suitable",
               "great", "will", "can", "is", "are", "has", "have"}
# kinds that name no kind of product ("a great choice", "a must-have", "a set of ...")
_ANY_KIND = {"product", "item", "choice", "option", "addition", "accessory", "gift", "way", "solution", "tool", "companion",
             "must", "must-have", "essential", "piece", "design", "style", "pick", "blend", "combination", "collection",
             "range", "pair", "pack", "bundle", "assortment", "set", "kit", "one", "favorite", "favourite", "staple",
             "investment", "alternative", "upgrade", "treat", "variety", "selection", "lot", "bit", "great", "perfect", "device",
             "statement", "look", "fit", "experience"}
# "the buckle is made of leather": the part and what it is made of
_PART_MATERIAL = re.compile(r"\b(?:the|its|their|this|each)\s+(?P<part>[a-z]+)\s+(?:is|are)\s+(?:\w+\s+){0,2}?"
                            r"(?:made|constructed|crafted|built|formed|cut)\s+(?:of|from|with|out of|in)\s+(?P<rest>[^.;,]+)")
NEAR_WORDS = 6  # how close in the record a part and its material must be


def _stem(word: str) -> str:
    return re.sub(r"(?:es|s)$", "", word) if len(word) > 4 else word


def _kind_claims(sentence: str, evidence: Evidence) -> list[tuple[str, str, bool]]:
    """"is a musical instrument", "is a thrilling mystery": the noun the copy makes the product must be a word of
    the record (or one that names no kind, "a great choice")."""
    found = []
    record = evidence.kind_words
    for m in _PREDICATE.finditer(normalise(sentence)):
        words = []
        for word in re.findall(r"[a-z][a-z'-]*", m.group("phrase").replace(",", " ")):
            if word in _PHRASE_END:
                break
            words.append(word)
        if not words:
            continue
        head = words[-1]
        if head in _ANY_KIND or _stem(head) in record or any(t.endswith(_stem(head)) for t in record if len(head) > 3):
            continue
        found.append(("kind", f"a {' '.join(words)}", False))
    return found


def _part_claims(sentence: str, evidence: Evidence) -> list[tuple[str, str, bool]]:
    """"The buckle is made from genuine leather": when the record names that part, the material must be near it."""
    found = []
    norm = normalise(sentence)
    for m in _PART_MATERIAL.finditer(norm):
        part = _stem(m.group("part"))
        materials = [w.group(1) for w in _LEXICON_RE.finditer(m.group("rest")) if _LEXICON[w.group(1)] == "material"]
        places = [(line, i) for line in evidence.lines for i, t in enumerate(line) if _stem(t) == part]
        if not materials or not places:
            continue  # the record does not name the part: the material alone is checked
        for material in materials:
            first = material.split()[0]
            near = any(first in line[max(0, i - NEAR_WORDS) : i + NEAR_WORDS + 1] for line, i in places)
            found.append(("material", f"{m.group('part')} made of {material}", near))
    return found


def check_text(text: str, evidence: Evidence, english: bool = True) -> list[Claim]:
    """Every claim in `text`, each marked supported or not by `evidence`.

    Besides the claims `extract_claims` finds: maker claims ("by X", supported only by the record's brand)
    and, when `english`, non-words (kind "nonword", never supported: a word neither in the word lists nor
    in the record; the lists are English, so copy in another language is not checked for them).

    Raises:
        DictionaryMissingError: the system word lists are not installed.
    """
    claims = []
    for index, sentence in enumerate(split_sentences(text)):
        makers = _maker_claims(sentence, evidence)
        maker_names = {t.split(" ", 1)[1] for _, t, _ in makers}
        for kind, claim in extract_claims(sentence, evidence.true_flags | evidence.false_flags):
            if kind == "name" and any(claim in name for name in maker_names):
                continue  # judged as a maker
            claims.append(Claim(text=claim, kind=kind, supported=_supported(kind, claim, evidence), sentence=index))
        english_only = _nonword_claims(sentence, evidence) + _kind_claims(sentence, evidence) if english else []
        for kind, claim, supported in makers + _part_claims(sentence, evidence) + english_only:
            claims.append(Claim(text=claim, kind=kind, supported=supported, sentence=index))
    return claims


_LABEL = re.compile(r"^\s*[\w' &/-]{1,30}:\s+")  # "Feature: ...", "MEMORY FOAM MATTRESS: ..."


def restatements(text: str, evidence: Evidence, threshold: float = 0.8) -> list[int]:
    """Indexes of the sentences of `text` that repeat the title or one bullet nearly verbatim.

    A sentence (a leading "Label:" ignored) restates a source when at least `threshold` of its words, and at
    least three, appear in the source in the same order (difflib's matching blocks). "Moto G Power by
    Motorola." restates "Moto G Power | 3-Day Battery | Made for US by Motorola"; a sentence that rephrases
    a bullet in its own words does not.
    """
    out = []
    for index, sentence in enumerate(split_sentences(text)):
        words = _words(_LABEL.sub("", sentence))
        if len(words) < 3:
            words = _words(sentence)
        if not words:
            continue
        for source in evidence.sources:
            matcher = difflib.SequenceMatcher(None, words, source, autojunk=False)
            same = sum(block.size for block in matcher.get_matching_blocks())
            if same >= 3 and same >= threshold * len(words):
                out.append(index)
                break
    return out


def drop_unsupported(text: str, claims: list[Claim]) -> tuple[list[str], int]:
    """The sentences of `text` that make no unsupported claim, and how many were dropped."""
    bad = {c.sentence for c in claims if not c.supported}
    sentences = split_sentences(text)
    return [s for i, s in enumerate(sentences) if i not in bad], len(bad)
