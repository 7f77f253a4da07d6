"""Dialogue state: refinements keep the request, a new product type starts one, the state survives storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.conversation.state import DialogueState, next_request
from retrieval.attributes import AttributeSchema
from retrieval.ingest import load_catalog
from retrieval.product_types import ProductTypes
from retrieval.query import parse_query

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def understand():
    products = load_catalog(REPO / "assistant" / "shop" / "demo_shop" / "catalog.jsonl").products
    types, schema = ProductTypes.from_products(products), AttributeSchema.from_products(products)

    def parse(message):
        parsed = parse_query(message, schema=schema)
        return parsed, types.find(parsed.text)

    return parse


def run(understand, messages):
    request, changes = None, []
    for message in messages:
        request, how = next_request(request, *understand(message))
        changes.append(how)
    return request, changes


def test_refinements_keep_the_topic_and_gather_constraints(understand):
    request, changes = run(understand, ["show me sleeping pads", "in blue?", "for less than $70 then", "only the ones in stock"])
    assert changes == ["new", "refined", "refined", "refined"]
    assert request.leaves == ["Sleeping Pads"]
    f = request.filters
    assert (f.colours, f.price_max, f.in_stock) == (["blue"], 70.0, True)
    assert request.describe() == "sleeping pads under $70 in blue in stock"


def test_a_new_product_type_starts_a_new_request(understand):
    request, changes = run(understand, ["waterproof boots under $100", "and I also need a stove"])
    assert changes == ["new", "new"]
    assert request.leaves == ["Camp Kitchen"] and request.filters.price_max is None


def test_a_new_budget_replaces_the_old_one_and_around_says_so(understand):
    request, _ = run(understand, ["tents under $300", "my budget is around 200"])
    assert request.filters.price_max == 220.0 and request.filters.price_around == 200.0
    assert "around $200" in request.describe()


def test_no_request_without_a_type_or_constraints(understand):
    request, changes = run(understand, ["hello there"])
    assert request is None and changes == ["none"]


def test_state_round_trips_and_reads_old_sessions():
    state = DialogueState(shown=["A", "B"], focus="A", orders=["SB-1"])
    raw: dict = {}
    state.store(raw)
    assert DialogueState.load(raw) == state
    old = DialogueState.load({"last_products": ["X"], "focus": "X", "last_order": "SB-2"})
    assert (old.shown, old.focus, old.orders) == (["X"], "X", ["SB-2"])
