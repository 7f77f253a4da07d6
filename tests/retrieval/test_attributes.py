"""The catalog attribute schema: constraints and superlatives in a shopper's words, for any catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.attributes import AttributeSchema, Constraint, Sort, Synonyms, normalise_numbers
from retrieval.catalog import Product
from retrieval.ingest import load_catalog
from retrieval.query import parse_query

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_schema() -> AttributeSchema:
    return AttributeSchema.from_products(load_catalog(REPO / "assistant" / "shop" / "demo_shop" / "catalog.jsonl").products)


def _constraints(schema: AttributeSchema, text: str) -> list[tuple[str, str, object]]:
    """Measured and yes/no conditions (catalog words, the enumerations, are tested on their own)."""
    return [(c.attribute, c.op, c.value) for c in schema.understand(normalise_numbers(text)).constraints
            if not (c.op == "==" and isinstance(c.value, str))]


def test_schema_reads_kinds_and_units_from_the_catalog(demo_schema):
    a = demo_schema.attributes
    assert a["weight_g"].kind == "number" and a["weight_g"].unit == "g"
    assert a["capacity_persons"].unit == "people"
    assert a["temperature_rating_c"].unit == "°C"
    assert a["waterproof"].kind == "bool"
    assert a["material"].kind == "text"


@pytest.mark.parametrize("text, expected", [
    ("a tent for three people", [("capacity_persons", ">=", 3)]),
    ("3-person tent", [("capacity_persons", "==", 3)]),  # a compound names the class; "for three people" is at least
    ("one that sleeps 2", [("capacity_persons", ">=", 2)]),
    ("sleeping bag rated to -10", [("temperature_rating_c", "<=", -10)]),
    ("good down to minus 5 degrees", [("temperature_rating_c", "<=", -5)]),
    ("pack under 1 kg", [("weight_g", "<=", 1000)]),
    ("at least 300 lumens", [("lumens", ">=", 300)]),
    ("a 40 l backpack", [("capacity_l", "~", 40)]),
    ("waterproof boots", [("waterproof", "is", True)]),
    ("a pan that works on induction", [("induction_compatible", "is", True)]),
    ("a jacket that is not waterproof", [("waterproof", "is", False)]),
    ("bottle that keeps drinks cold for 24 hours", [("keeps_cold_h", ">=", 24)]),
    ("a sleeping bag that'll cope with minus 12", [("temperature_rating_c", "<=", -12)]),
    ("can it handle -5", [("temperature_rating_c", "<=", -5)]),
])
def test_constraints_in_everyday_words(demo_schema, text, expected):
    assert _constraints(demo_schema, text) == expected


@pytest.mark.parametrize("text, dimension, descending", [
    ("the lightest one", "weight", False),
    ("which is the warmest", "warmth", False),
    ("the brightest headlamp", "brightness", True),
    ("which of those packs has the most volume", "volume", True),
    ("the roomiest tent", "capacity", True),
    ("the cheapest", "price", False),
    ("which one holds the most", "capacity", True),
    ("which of those weighs the least", "weight", False),
    ("and the thinnest?", "thickness", False),
])
def test_superlatives(demo_schema, text, dimension, descending):
    sort = demo_schema.understand(text).sort
    assert sort is not None and (sort.dimension, sort.descending) == (dimension, descending)


def test_roomiest_means_persons_for_tents_and_litres_for_packs(demo_schema):
    products = load_catalog(REPO / "assistant" / "shop" / "demo_shop" / "catalog.jsonl").products
    tents = [p for p in products if "Tents" in p.category]
    packs = [p for p in products if "Backpacks" in p.category]
    assert demo_schema.dimension_attribute("capacity", tents) == "capacity_persons"
    assert demo_schema.dimension_attribute("capacity", packs) == "capacity_l"
    lightest = demo_schema.order(packs, Sort(dimension="weight", descending=False))[0]
    assert lightest.attributes["weight_g"] == min(p.attributes["weight_g"] for p in packs)


def test_another_shops_catalog_and_its_own_synonyms():
    """Nothing is specific to the demo shop: a kettle shop's `power_w`, `capacity_l` and `cordless` work, and
    the shop adds the word "fastest" for its own dimension."""
    kettles = [
        Product(id=f"K{i}", title=f"Kettle {i}", attributes={"capacity_l": cap, "power_w": w, "cordless": cordless})
        for i, (cap, w, cordless) in enumerate([(1.0, 2200, True), (1.7, 3000, False), (1.5, 2400, True)])
    ]
    synonyms = Synonyms()
    synonyms.dimensions["boil speed"] = ["power_w"]
    synonyms.superlatives["fastest"] = ("boil speed", "desc")
    schema = AttributeSchema.from_products(kettles, synonyms)
    assert _constraints(schema, "a cordless kettle of at least 1.5 litres") == [("capacity_l", ">=", 1.5), ("cordless", "is", True)]
    sort = schema.understand("the fastest one").sort
    assert schema.order(kettles, sort)[0].id == "K1"


def test_a_catalog_without_attributes_parses_nothing():
    schema = AttributeSchema.from_products([Product(id="A", title="Phone case for 3 people")])
    assert not schema
    assert schema.understand("for 3 people, the lightest").constraints == []


def test_constraint_check_and_missing_values():
    c = Constraint(attribute="capacity_persons", op=">=", value=3)
    assert c.check(Product(id="a", title="t", attributes={"capacity_persons": 4})) is True
    assert c.check(Product(id="b", title="t", attributes={"capacity_persons": 2})) is False
    assert c.check(Product(id="c", title="t")) is None


def test_reason_names_the_attributes_of_the_request(demo_schema):
    tent = Product(id="t", title="Tent", attributes={"capacity_persons": 3, "weight_g": 1900, "seasons": 3})
    understood = demo_schema.understand("the lightest tent for 3 people")
    assert demo_schema.reason(tent, understood.constraints, understood.sort) == "1.9 kg · sleeps 3"


@pytest.mark.parametrize("query, price_max, around", [
    ("my budget is around 90", 99.0, 90.0),
    ("about 50 dollars", 55.0, 50.0),
    ("no more than 60 bucks", 60.0, None),
    ("under a hundred", 100.0, None),
    ("under two hundred dollars", 200.0, None),
    ("90 or less", 90.0, None),
    ("a tent, $200 max", 200.0, None),
    ("I don't want to spend more than 120", 120.0, None),
    ("I can spend 80", 80.0, None),
    ("budget of $150", 150.0, None),
    ("less then 40", 40.0, None),
    ("actually I could stretch to 150", 150.0, None),
    ("I can go as high as 120", 120.0, None),
    ("after a tent that sleeps 3, cant really go over 200", 200.0, None),
    ("tent 2p <350", 350.0, None),
    ("a <= 50 gift", 50.0, None),  # "50 gift" is no 50 g
])
def test_budgets_in_everyday_words(query, price_max, around):
    f = parse_query(query).filters
    assert (f.price_max, f.price_around, f.price_min) == (price_max, around, None)


def test_number_words_become_digits_only_next_to_a_price_or_unit():
    assert normalise_numbers("under a hundred") == "under 100"
    assert normalise_numbers("a tent for three people") == "a tent for 3 people"
    assert normalise_numbers("one piece swimsuit") == "one piece swimsuit"
    assert normalise_numbers("the one for whom food is not enough") == "the one for whom food is not enough"


def test_attribute_words_leave_the_search_text_but_yes_no_words_stay(demo_schema):
    parsed = parse_query("waterproof tent for 3 people, the lightest", schema=demo_schema)
    assert "3" not in parsed.text and "lightest" not in parsed.text
    assert "waterproof" in parsed.text and "tent" in parsed.text
    assert parsed.filters.sort is not None and len(parsed.filters.attributes) == 2


@pytest.mark.parametrize("query, price_min, price_max, constraint", [
    ("headlamp with at least 300 lumens", None, None, ("lumens", ">=", 300)),
    ("headlamps over 400 lumens under 90", None, 90, ("lumens", ">=", 400)),
    ("a pack of at least 30 litres, over 100", 100, None, ("capacity_l", ">=", 30)),
    ("boots over 150 men's", 150, None, None),  # "men" is a unit of persons, "men's" is not
    ("sleeping bags rated below zero", None, None, ("temperature_rating_c", "<=", 0)),  # no price bound of nothing
])
def test_a_number_in_one_of_the_catalogs_units_is_no_price(demo_schema, query, price_min, price_max, constraint):
    parsed = parse_query(query, schema=demo_schema)
    assert (parsed.filters.price_min, parsed.filters.price_max) == (price_min, price_max)
    found = [(c.attribute, c.op, c.value) for c in parsed.filters.attributes if c.op != "=="]
    assert found == ([constraint] if constraint else [])


@pytest.mark.parametrize("text, attribute, value", [
    ("what about for women", "gender", "women's"),
    ("for men", "gender", "men's"),
    ("kettle for camping", "type", "camp kettle"),
    ("I'm looking for a quilt", "type", "quilt"),
])
def test_catalog_words_of_small_vocabularies_are_enumerations(demo_schema, text, attribute, value):
    found = {(c.attribute, c.value) for c in demo_schema.understand(text).constraints if c.op == "=="}
    assert (attribute, value) in found
    women = Constraint(attribute="gender", op="==", value="women's")
    assert women.check(Product(id="w", title="t", attributes={"gender": "Women's"})) is True
    assert women.check(Product(id="m", title="t", attributes={"gender": "men's"})) is False  # "men's" is inside "women's"


@pytest.mark.parametrize("text, expected", [
    ("just the merino ones", ("material", "merino")),  # a word of a free-text attribute with many values
    ("synthetic mesh trail shoes", ("material", "synthetic mesh")),
    ("a full size duvet", None),  # a modifier inside values ("full-grain") is no condition alone
    ("hiking boots", ("activity", "hiking")),
])
def test_a_distinctive_word_of_free_text_values_is_a_condition(demo_schema, text, expected):
    found = [(c.attribute, c.value) for c in demo_schema.understand(text).constraints if c.attribute in ("material", "activity")]
    assert found == ([expected] if expected else [])
    merino = Constraint(attribute="material", op="==", value="merino")
    assert merino.check(Product(id="m", title="t", attributes={"material": "Merino wool blend"})) is True
    assert merino.check(Product(id="p", title="t", attributes={"material": "recycled polyester"})) is False


@pytest.mark.parametrize("query, constraint, price_min", [
    ("with two doors", ("doors", ">=", 2), None),  # a count said plainly is a minimum
    ("at least 2 vestibules", ("vestibules", ">=", 2), None),  # not a price of at least 2
    ("a 10-piece set over 100", ("pieces", ">=", 10), 100),
])
def test_a_count_named_after_an_attribute(demo_schema, query, constraint, price_min):
    parsed = parse_query(query, schema=demo_schema)
    assert constraint in [(c.attribute, c.op, c.value) for c in parsed.filters.attributes]
    assert parsed.filters.price_min == price_min


def test_a_colour_inside_a_yes_no_attribute_is_no_colour(demo_schema):
    parsed = parse_query("the ones with a red light", schema=demo_schema)
    assert parsed.filters.colours == [] and ("red_light", True) in [(c.attribute, c.value) for c in parsed.filters.attributes]
    assert parse_query("a red jacket", schema=demo_schema).filters.colours == ["red"]


def test_colour_text_is_left_to_the_colour_rules():
    # ESCI records carry a free-text colour ("Elephant Grey"): its words are no attribute condition, so search
    # over such a catalog parses exactly as it did before attribute words existed
    products = [Product(id=f"p{i}", title=f"Lamp {i}", attributes={"colour": f"{c} Grey {i}"})
                for i, c in enumerate(["Elephant", "Smoke", "Storm", "Ash"] * 10)]
    schema = AttributeSchema.from_products(products)
    assert schema.understand("elephant lamp").constraints == []


@pytest.mark.parametrize("text, expected", [
    ("nothing bigger than 30 litres", [("capacity_l", "<=", 30)]),  # a negated comparative bounds the other way
    ("no heavier than 2 kg", [("weight_g", "<=", 2000)]),
    ("lighter than 1 kg", [("weight_g", "<=", 1000)]),
    ("bigger than 30 litres", [("capacity_l", ">=", 30)]),
    ("more than 300 lumens", [("lumens", ">=", 300)]),
    ("any with zero drop?", [("drop_mm", "~", 0)]),  # a number before the attribute's own name
    ("the 4mm drop ones", [("drop_mm", "~", 4)]),
    ("a litre or more", [("capacity_l", ">=", 1)]),
    ("good to at least minus 5", [("temperature_rating_c", "<=", -5)]),
    ("a one-man tent", [("capacity_persons", "==", 1)]),  # and no men's range
    ("300 lumens or brighter", [("lumens", ">=", 300)]),
    ("we're a family of three", [("capacity_persons", ">=", 3)]),
    ("tent for the four of us", [("capacity_persons", ">=", 4)]),
])
def test_comparisons_and_numbers_before_an_attribute_name(demo_schema, text, expected):
    assert _constraints(demo_schema, demo_schema.normalise_counts(text)) == expected
    assert demo_schema.understand(normalise_numbers(text)).sort is None  # "bigger than 30 litres" is no order


def test_a_superlative_adjective_orders_by_the_attribute_named_for_it(demo_schema):
    sort = demo_schema.understand("which trail shoe has the deepest lugs").sort
    assert (sort.dimension, sort.descending) == ("lug_depth_mm", True)
    assert demo_schema.understand("the shallowest lugs").sort.descending is False


def test_words_between_a_superlative_and_the_attribute_name(demo_schema):
    sort = demo_schema.understand("which has the smallest heel-to-toe drop?").sort
    assert (sort.dimension, sort.descending) == ("drop_mm", False)
    assert demo_schema.understand("the most headroom").sort.dimension == "height"


@pytest.mark.parametrize("text, gender", [
    ("a rain jacket for my sister, no more than 150", "women's"),
    ("my boyfriend runs trails, he needs new shoes", "men's"),
    ("something for my mum and dad", None),  # both: no range
    ("my wife says i need a new jacket for me", None),  # for the shopper, whoever spoke
    ("a winter jacket for myself (guy)", "men's"),  # what the shopper is counts for "me" too
])
def test_who_it_is_for_says_the_gender_range(demo_schema, text, gender):
    said = [c for c in demo_schema.understand(text).constraints if c.attribute == "gender"]
    assert [c.value for c in said] == ([gender] if gender else [])


@pytest.mark.parametrize("text, attribute", [
    ("a bottle that WON'T leak all over his books", "leakproof"),
    ("one that doesn't leak", "leakproof"),
    ("a leak-proof one", "leakproof"),
    ("does it pack down small", "packable"),
    ("ideally one that packs away small", "packable"),
    ("a pan set that can go in the dishwasher", "dishwasher_safe"),
    ("which ones stand up on their own? cant always get pegs in", "freestanding"),
])
def test_a_yes_no_attribute_said_by_what_its_name_is_made_of(demo_schema, text, attribute):
    assert (attribute, "is", True) in _constraints(demo_schema, text)


def test_a_noun_sharing_an_able_attributes_stem_is_no_condition(demo_schema):
    assert not any(a == "packable" for a, _, _ in _constraints(demo_schema, "a big pack for a week on the trail"))


def test_the_adjective_of_an_ability_attribute_orders_by_it(demo_schema):
    sort = demo_schema.understand("which of these is the most breathable?").sort
    assert sort is not None and sort.dimension == "breathability_g_m2" and sort.descending


@pytest.mark.parametrize("text, expected", [
    ("it can drop to about minus three at night up there", [("temperature_rating_c", "<=", -3)]),
    ("a bag good to minus three", [("temperature_rating_c", "<=", -3)]),
    ("if the price can drop to 50", []),  # no temperature without a minus or a degree
])
def test_how_cold_it_gets_is_a_temperature_rating(demo_schema, text, expected):
    assert [c for c in _constraints(demo_schema, text) if c[0] == "temperature_rating_c"] == expected


def test_best_along_a_dimension_wise_is_its_superlative(demo_schema):
    sort = demo_schema.understand("which of those will be easiest on her back weight-wise?").sort
    assert sort is not None and sort.dimension == "weight" and not sort.descending and sort.phrase == "lightest"


@pytest.mark.parametrize("text, word", [
    ("a warm jacket but no down please", "down"),  # "down" alone is no value (a direction); ruled out it is one
    ("a merino base layer, she hates synthetic stuff", "synthetic"),
    ("boots, not leather", "leather"),
])
def test_a_value_ruled_out_is_a_condition_against_it(demo_schema, text, word):
    ruled = [c for c in demo_schema.understand(text).constraints if c.op == "!="]
    assert ruled and {c.value for c in ruled} == {word}
    assert not any(c.op == "==" and word in str(c.value) for c in demo_schema.understand(text).constraints)


def test_a_product_passes_a_ruled_out_value_only_when_it_says_it_is_made_of_something_else(demo_schema):
    f = parse_query("a jacket, no down", schema=demo_schema).filters
    synthetic = Product(id="s", title="Synthetic Jacket", attributes={"insulation": "recycled synthetic"})
    down = Product(id="d", title="Down Jacket", attributes={"insulation": "850-fill-power down"})
    silent = Product(id="r", title="Rain Jacket", attributes={"waterproof": True})
    assert [f.check(p, strict=False)[0] for p in (synthetic, down, silent)] == [True, False, False]


def test_a_yes_no_attribute_said_otherwise_is_said_back_in_the_catalogs_words(demo_schema):
    said = {c.attribute: c.phrase for c in demo_schema.understand("one that can go in the dishwasher").constraints}
    assert said["dishwasher_safe"] == "dishwasher safe"


def test_a_value_of_several_words_said_with_one_misspelt(demo_schema):
    kinds = [c.value for c in demo_schema.understand("closed cel foam pad").constraints if c.attribute == "type"]
    assert kinds == ["closed-cell foam"]
    assert not [c for c in demo_schema.understand("closed foam pad").constraints if c.attribute == "type"]  # a word missing


@pytest.mark.parametrize("text, value", [
    ("max cushioning trail shoes", "max"),  # a value word named with its attribute ("max" alone is no value)
    ("trail shoes, the more cushioned the better", "max"),  # the attribute's most: its highest value
    ("the most cushioned ones", "max"),
])
def test_a_text_attribute_said_with_its_value_or_its_most(demo_schema, text, value):
    assert [c.value for c in demo_schema.understand(text).constraints if c.attribute == "cushioning"] == [value]


def test_the_word_values_end_in_names_their_class_before_a_noun(demo_schema):
    """"850-fill-power down" and "650-fill-power down" are down: "a down jacket" asks for it, "down to 100" and
    "runs trails" (a head word said as a noun of its own) do not."""
    def insulation(text):
        return [c.value for c in demo_schema.understand(text).constraints if c.attribute == "insulation"]
    assert insulation("a down jacket") == ["down"]
    assert insulation("a synthetic one") == ["synthetic"]
    assert insulation("turn it down a bit") == []
    assert [c for c in demo_schema.understand("runs trails every weekend").constraints if c.attribute == "terrain"] == []
    assert [c.value for c in demo_schema.understand("trail shoes with loads of cushioning").constraints
            if c.attribute == "cushioning"] == ["max"]
