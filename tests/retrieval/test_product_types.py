"""Product types learned from the catalog: which kind of product a message is about."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.catalog import Product
from retrieval.ingest import load_catalog
from retrieval.product_types import ProductTypes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def types() -> ProductTypes:
    return ProductTypes.from_products(load_catalog(REPO / "assistant" / "shop" / "demo_shop" / "catalog.jsonl").products)


@pytest.mark.parametrize("text, leaves", [
    ("show me sleeping pads", {"Sleeping Pads"}),
    ("and I also need a stove", {"Camp Kitchen"}),
    ("the jacket I bought", {"Rain Jackets", "Insulated Jackets"}),
    ("an insulated jacket", {"Insulated Jackets"}),
    ("waterproof boots", {"Hiking Boots"}),
    ("a daypack", {"Backpacks"}),
    # misspelt: a word close to one of the catalog's type words
    ("i want a backpak for day hikes", {"Backpacks"}),
    ("a hedlamp", {"Headlamps & Lanterns"}),
    ("water botle", {"Water Bottles"}),
    # the word after a subject pronoun is a verb: "camps" is no product here
    ("gift for my dad, he camps a lot. thinking a lantern?", {"Headlamps & Lanterns"}),
    ("plus a cheap foam mat to go under his bag", {"Sleeping Pads"}),
    # within one phrase the head word names it: a stove, not a "camp"
    ("camp stove, push-button ignition", {"Camp Kitchen"}),
    # after a preposition and a determiner, where rather than what
    ("a warm jacket for woman, it must pack small in the bag", {"Insulated Jackets", "Rain Jackets"}),
    # a word made from an "-ing" form is the activity, not the product
    ("my dad is getting really into camping so i thought i'd get him a lantern", {"Headlamps & Lanterns"}),
    ("he's always cooking on his trips, so a camping stove with a push-button igniter", {"Camp Kitchen"}),
])
def test_types_from_titles_and_category_names(types, text, leaves):
    found = types.find(text)
    assert found is not None and set(found[0]) == leaves


@pytest.mark.parametrize("text", ["in blue?", "for less than $70 then", "waterproof", "which one is lighter",
                                  "something warm for winter please",
                                  # adjectives of titles ("Long-Sleeve Tee", "Ceramic Coated Pan") name no kind
                                  "a week on the long trail", "is it coated"])
def test_constraints_and_attribute_words_name_no_type(types, text):
    assert types.find(text) is None


def test_brands_name_no_type():
    products = [Product(id=f"p{i}", title=f"Acme {kind} {i}", brand="Acme", category=["Home", leaf])
                for i, (kind, leaf) in enumerate([("Kettle", "Kettles")] * 4 + [("Toaster", "Toasters")] * 4)]
    types = ProductTypes.from_products(products)
    assert set(types.find("an acme kettle")[0]) == {"Kettles"}
    assert types.find("something from acme") is None



def test_a_correctly_spelt_word_is_no_typo_of_a_type_word(types):
    assert types.find("he runs in all weather") is None  # "weather" is English, not a misspelt "feather"


def test_the_head_of_a_phrase_is_the_type_said(types):
    assert types.find("camp stove")[1] == "stove" and types.find("a down sleeping bag")[1] == "sleeping bag"


def test_other_words_for_a_type_through_wordnet(types):
    """The catalog says "backpack" and "bottle"; a shopper says "rucksack" (a synonym) or "flask" (a kind of
    bottle): the relation comes with it, so a caller can ask for more evidence than a synonym needs."""
    leaves, words, relation = types.related("rucksack")[0]
    assert (set(leaves), words, relation) == ({"Backpacks"}, "backpack", "synonym")
    assert ({"Water Bottles"}, "bottle", "broader") in [(set(a), b, c) for a, b, c in types.related("flask")]
    assert types.related("sofa") == []  # near no type this catalog sells


def test_an_activity_names_the_kind_only_when_asked_to(types):
    """"a head torch for camping": the caller looks for the head torch in other words before "camping" decides."""
    assert types.find("a head torch for camping", activities=False) is None
    assert set(types.find("a head torch for camping")[0]) == {"Camp Kitchen"}


def test_a_type_word_that_says_where_can_be_left_out(types):
    assert types.find("one with a red light so i don't blind everyone in the tent", places=False) is None
    assert types.find("one with a red light so i don't blind everyone in the tent")[1] == "tent"


def test_the_head_of_a_compound_synonym_is_only_a_broader_kind(types):
    """WordNet's "open air" is a synonym of "outdoors"; its head "air" (an air pad) is at most a broader noun,
    which a caller confirms by other evidence before it names the type."""
    assert all(relation == "broader" for _, words, relation in types.related("outdoors") if words == "air")
    assert ("utensil", "broader") in [(w, r) for _, w, r in types.related("cutlery")]  # "eating utensil"
