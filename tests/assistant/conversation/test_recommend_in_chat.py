"""Recommendations in the conversation use the dialogue: after an add to cart and for "something to go with it"
they complement the product (other kinds, with the reason), otherwise they stay in the request's category."""

from __future__ import annotations

import pytest


def run(assistant, session, message, user=None) -> dict:
    return list(assistant.chat(session, message, user))[-1].data


@pytest.fixture
def bot(make_assistant):
    return make_assistant()


def _leaf(bot, pid: str) -> str:
    return bot.deps.catalog[pid].category[-1]


def test_something_to_go_with_it_complements_the_product(bot):
    first = run(bot, None, "show me tents")
    session = first["session"]
    tent = first["products"][0]["id"]
    done = run(bot, session, "what would you recommend to go with it?")
    ids = [p["id"] for p in done["products"]]
    assert ids and tent not in ids
    assert all(_leaf(bot, pid) != _leaf(bot, tent) for pid in ids), "complements, not more tents"
    title = bot.deps.catalog[tent].title
    assert any(f"goes with the {title}" in (p.get("reason") or "") for p in done["products"])
    assert "goes with the" in done["reply"]


def test_the_turn_after_an_add_to_cart_recommends_complements(bot):
    first = run(bot, None, "show me sleeping bags")
    session = first["session"]
    run(bot, session, "add the first one to my cart")
    bag = first["products"][0]["id"]
    done = run(bot, session, "what would you recommend?")
    ids = [p["id"] for p in done["products"]]
    assert ids and bag not in ids
    assert all(_leaf(bot, pid) != _leaf(bot, bag) for pid in ids)


def test_a_plain_recommendation_keeps_the_request_category_and_budget(bot):
    first = run(bot, None, "show me backpacks under 150")
    session = first["session"]
    leaf = _leaf(bot, first["products"][0]["id"])
    done = run(bot, session, "what would you recommend?")
    assert done["products"]
    for p in done["products"]:
        assert leaf in bot.deps.catalog[p["id"]].category
        assert p["price"] is None or p["price"] <= 150

