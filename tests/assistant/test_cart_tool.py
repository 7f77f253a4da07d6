"""Choosing the variant to add, and yes/no availability, from the catalog's variants and stock."""

from __future__ import annotations

from assistant.tools.cart import choose_variant
from assistant.tools.products import availability
from retrieval.catalog import Product, Variant


def boot() -> Product:
    variants = [Variant(sku=f"B-{s}-{c}", size=s, colour=c, stock=stock)
                for s, c, stock in [("8", "Brown", 3), ("8", "Black", 0), ("9", "Brown", 0), ("9", "Black", 2), ("10", "Black", 0), ("10", "Brown", 0)]]
    return Product(id="B", title="Trail Boot - Men's", price=120.0, variants=variants)


def test_a_missing_required_choice_is_asked_with_the_in_stock_options():
    choice = choose_variant(boot(), None, None)
    assert choice.line is None and choice.ask == "size" and choice.options == ["8", "9"]
    choice = choose_variant(boot(), "8", None)
    assert choice.line is not None and (choice.line.sku, choice.line.colour) == ("B-8-Brown", "Brown")  # the only colour in stock


def test_a_full_choice_picks_the_sku_and_sold_out_or_unknown_variants_say_why():
    choice = choose_variant(boot(), "9", "Black", quantity=2)
    assert choice.line.sku == "B-9-Black" and choice.line.quantity == 2 and choice.line.unit_price == 120.0
    assert "sold out" in choose_variant(boot(), "10", None).problem
    unknown = choose_variant(boot(), "13", None)
    assert unknown.line is None and "not offered in size 13" in unknown.problem and unknown.options == ["8", "9"]


def test_availability_answers_yes_or_no_from_variants():
    yes, text = availability(boot(), "8", None)
    assert yes and text == "Yes, size 8 is in stock in Brown; Black is sold out."
    no, text = availability(boot(), "10", None)
    assert not no and "sold out" in text
    no, text = availability(boot(), None, "Green")
    assert not no and "does not come in Green" in text and "Black, Brown" in text
    no, text = availability(boot(), "13", None)
    assert not no and "sizes: 8, 9, 10" in text
