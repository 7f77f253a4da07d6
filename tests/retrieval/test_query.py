"""Query understanding: prices in every phrasing, currencies, sizes, stock, colours, brands, categories."""

from __future__ import annotations

import pytest

from retrieval.catalog import Product, Variant
from retrieval.query import Filters, parse_query


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("waterproof boots under $100 in size 10", "waterproof boots",
         {"price_max": 100.0, "currency": "USD", "sizes": ["10"]}),
        ("less than 50", "", {"price_max": 50.0}),
        ("tent less than 50 dollars", "tent", {"price_max": 50.0, "currency": "USD"}),
        ("cheaper than 30 euros", "", {"price_max": 30.0, "currency": "EUR"}),
        ("between 20 and 50 euros", "", {"price_min": 20.0, "price_max": 50.0, "currency": "EUR"}),
        ("$20-$50 socks", "socks", {"price_min": 20.0, "price_max": 50.0, "currency": "USD"}),
        ("€20 - €50", "", {"price_min": 20.0, "price_max": 50.0, "currency": "EUR"}),
        ("jackets 20 to 50 dollars", "jackets", {"price_min": 20.0, "price_max": 50.0, "currency": "USD"}),
        ("stove over 200", "stove", {"price_min": 200.0}),
        ("lamp at least £15", "lamp", {"price_min": 15.0, "currency": "GBP"}),
        ("shoes priced below 99.99 usd", "shoes", {"price_max": 99.99, "currency": "USD"}),
        ("size M fleece", "fleece", {"sizes": ["M"]}),
        ("hiking shoe size 9.5", "hiking shoe", {"sizes": ["9.5"]}),
        ("shirt size large", "shirt", {"sizes": ["L"]}),
        ("headlamp in stock", "headlamp", {"in_stock": True}),
        ("pad, 80ish max", "pad", {"price_max": 80.0}),  # "-ish" loosens the number, "max" still bounds it
        ("a jacket 120ish", "a jacket", {"price_around": 120.0, "price_max": 132.0}),
        ("ok if i push it to 80", "ok if i", {"price_max": 80.0}),
        ("cheaper, sub 90", "cheaper", {"price_max": 90.0}),
        ("any in a 10", "any", {"sizes": ["10"]}),  # a size at the end, without the word "size"
    ],
)
def test_price_size_stock_phrases_become_filters(query: str, text: str, expected: dict) -> None:
    parsed = parse_query(query)
    assert parsed.text == text
    assert parsed.filters.model_dump(exclude_defaults=True) == expected


@pytest.mark.parametrize(
    "query",
    ["dumbbells less than 5 lbs", "2-4 person tent", "usb cable over 6 ft", "kids 10-12 years", "tv under 55 inches"],
)
def test_quantities_are_not_prices(query: str) -> None:
    parsed = parse_query(query)
    assert parsed.filters.price_min is None and parsed.filters.price_max is None
    assert parsed.text == query


def test_colours_brands_categories_are_kept_in_the_text() -> None:
    parsed = parse_query("Red stormshell jackets by Alpenglow, gray socks",
                         brands=["Alpenglow", "Ridgeline"], categories=["Jackets", "Socks", "Tents"])
    assert parsed.text == "Red stormshell jackets by Alpenglow, gray socks"
    assert parsed.filters.colours == ["red", "grey"]
    assert parsed.filters.brands == ["Alpenglow"]
    assert parsed.filters.categories == ["Jackets", "Socks"]


def _boot(**kw) -> Product:
    base = dict(id="b", title="Boot", price=80.0, variants=[Variant(sku="b-10", size="10", colour="Brown", stock=2)])
    return Product(**{**base, **kw})


def test_parsed_filters_drop_contradictions_and_keep_unknowns() -> None:
    f = parse_query("boots under $100 size 10 in stock").filters
    ok, why, _ = f.check(_boot(), strict=False)
    assert ok and any("price 80" in w for w in why) and "size 10 available" in why and "in stock" in why
    assert not f.check(_boot(price=120.0), strict=False)[0]
    assert not f.check(_boot(variants=[Variant(sku="x", size="9", stock=1)]), strict=False)[0]
    assert not f.check(_boot(variants=[Variant(sku="x", size="10", stock=0)]), strict=False)[0]
    # No price, no sizes, unknown stock: a parsed filter cannot rule the product out.
    assert f.check(Product(id="u", title="Boot"), strict=False)[0]


def test_explicit_filters_are_strict() -> None:
    f = Filters(brands=["Ridgeline"], price_max=100)
    assert f.check(_boot(brand="ridgeline"), strict=True)[0]
    assert not f.check(_boot(brand="Other"), strict=True)[0]
    assert not f.check(Product(id="u", title="Boot", brand="Ridgeline"), strict=True)[0]  # no price
    soft_ok, _, preferred = Filters(colours=["brown"]).check(_boot(), strict=False)
    assert soft_ok and preferred == 1


def test_merged_filters_prefer_the_explicit_ones() -> None:
    merged = Filters(price_max=100, colours=["red"]).merged(Filters(price_max=50))
    assert merged.price_max == 50 and merged.colours == ["red"]


@pytest.mark.parametrize(
    ("query", "text", "excluded"),
    [
        ("knife sets without block", "knife sets", ["block"]),
        ("weighted blanket without glass beads for kids", "weighted blanket for kids", ["glass", "beads"]),
        ("toothpaste w/o fluoride under $10", "toothpaste", ["fluoride"]),
        ("silicone spatula not red", "silicone spatula", ["red"]),
        ("no show socks", "no show socks", []),  # "no" names a product type here
        ("non slip bath mat", "non slip bath mat", []),
        ("not clear", "not clear", []),  # nothing left to search for: literal
    ],
)
def test_negations_become_excluded_words(query: str, text: str, excluded: list[str]) -> None:
    parsed = parse_query(query)
    assert (parsed.text, parsed.excluded) == (text, excluded)
    if excluded:
        assert parsed.negation.split()[1:] == excluded and parsed.unnegated_text.startswith(text.split()[0])


def test_an_excluded_colour_is_not_a_preference() -> None:
    assert parse_query("silicone spatula not red").filters.colours == []
    assert parse_query("red silicone spatula").filters.colours == ["red"]


@pytest.mark.parametrize(("query", "lifted", "text"), [
    ("ok forget the budget then, what else have you got", ["budget"], "ok then, what else have you got"),
    ("actually scratch the tent, just a sleeping mat then", ["tent"], "actually , just a sleeping mat then"),
    ("colour doesn't matter", ["colour"], ""),
    ("money's no object", ["money"], ""),
    ("never mind the price limit, show me all", ["price"], "show me all"),
    ("forget it", [], "forget it"),  # nothing named: no condition let go of
])
def test_what_the_shopper_lets_go_of(query: str, lifted: list[str], text: str) -> None:
    parsed = parse_query(query)
    assert (parsed.lifted, parsed.text) == (lifted, text)


def test_a_size_said_of_the_person() -> None:
    assert parse_query("trail shoes with cushioning? i'm an 8").filters.sizes == ["8"]
    assert parse_query("he's a 10 year old").filters.sizes == []
