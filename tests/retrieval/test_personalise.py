"""Personalised search on a real Chroma index and SQLite event log: the profile reorders what the query found,
never pulls in what it did not, anonymous shoppers get today's ranking, owned non-consumables drop down."""

from __future__ import annotations

import pytest

from retrieval.catalog import Product, Variant
from retrieval.config import RecsSettings
from retrieval.personalise import personalised_search
from retrieval.recs.events import Event, EventStore
from retrieval.recs.profiles import ProfileStore
from retrieval.recs.recommend import Recommender, embed_products
from retrieval.search import open_searcher, open_store

NOW = 1_700_000_000.0
DAY = 86_400.0


def _catalog() -> list[Product]:
    """Eight mugs of two brands, colours and price levels, plus stoves and kettles the shopper loves."""
    out = []
    for n in range(8):
        brand, colour = ("Hearth", "red") if n % 2 else ("Nordic", "blue")
        out.append(Product(
            id=f"mug-{n}", title=f"{brand} Ceramic Mug {colour.title()} {n}", brand=brand, category=["Kitchen", "Mugs"],
            description=f"A ceramic mug for coffee and tea, {colour}.", price=8.0 + (20 if n % 2 else 0),
            variants=[Variant(sku=f"mug-{n}-v", colour=colour, stock=5)], stock=5,
        ))
    for n in range(4):
        out.append(Product(id=f"stove-{n}", title=f"Hearth Camping Stove {n}", brand="Hearth", category=["Camping", "Stoves"],
                           description="A gas stove for camping trips.", price=28.0, stock=5))
        out.append(Product(id=f"kettle-{n}", title=f"Hearth Camping Kettle {n}", brand="Hearth", category=["Camping", "Kettles"],
                           description="A kettle for the camp stove.", price=28.0, stock=5))
    return out


@pytest.fixture
def shop(settings, shopbot_home, hashing_embedder):
    products = _catalog()
    open_store(settings, shopbot_home, hashing_embedder).index(products)
    searcher = open_searcher(settings, shopbot_home, hashing_embedder)
    recs = RecsSettings()
    vectors = embed_products(products, hashing_embedder, None)
    rec = Recommender(products, vectors, EventStore(shopbot_home / "events.db"),
                      ProfileStore(shopbot_home / "profiles.db", vectors.shape[1], recs), recs, embedder=hashing_embedder)
    yield searcher, rec
    rec.events.close()
    rec.profiles.close()


def ids(result) -> list[str]:
    return [h.product.id for h in result.hits]


def _record(rec, user, items, kind="purchase", start=NOW - 30 * DAY):
    for n, pid in enumerate(items):
        rec.record(Event(type=kind, user_id=user, product_id=pid, ts=start + n * 3600, session_id=f"{user}-{n}", value=1))


def test_anonymous_and_unknown_shoppers_get_todays_ranking(shop):
    searcher, rec = shop
    plain = searcher.search("ceramic mug", k=5)
    for user in (None, "", "nobody-yet"):
        got = personalised_search(searcher, rec, "ceramic mug", k=5, user_id=user, now=NOW)
        assert ids(got) == ids(plain)
        assert [h.score for h in got.hits] == [h.score for h in plain.hits]
        assert not any("personalised" in w for h in got.hits for w in h.why)
    assert ids(personalised_search(searcher, None, "ceramic mug", k=5, user_id="C1")) == ids(plain)


def test_brand_colour_and_price_taste_reorders_the_relevant_hits(shop):
    searcher, rec = shop
    # a Hearth fan: red Hearth kitchen things and camping gear, around 28
    _record(rec, "C1", ["mug-1", "stove-0", "stove-1", "kettle-0"])
    plain = ids(searcher.search("ceramic mug", k=6))
    got = personalised_search(searcher, rec, "ceramic mug", k=6, user_id="C1", now=NOW)
    assert sorted(ids(got)[:3]) != sorted(plain[:3]) or ids(got) != plain
    hearth = [h for h in got.hits if h.product.brand == "Hearth" and h.product.id != "mug-1"]
    nordic = [h for h in got.hits if h.product.brand == "Nordic"]
    assert hearth and nordic
    assert ids(got).index(hearth[0].product.id) < ids(got).index(nordic[0].product.id)
    moved = [h for h in got.hits if any(w.startswith("personalised: moved") for w in h.why)]
    assert moved, "a hit personalisation moved says so in why"
    assert all("plain" in h.scores and "personal" in h.scores for h in got.hits)


def test_a_profile_never_pulls_in_what_the_query_did_not_find(shop):
    searcher, rec = shop
    _record(rec, "C2", [f"stove-{n}" for n in range(4)] + [f"kettle-{n}" for n in range(4)])
    for n in range(10):  # a live session full of stoves, too
        rec.record(Event(type="view", user_id="C2", product_id=f"stove-{n % 4}", ts=NOW - 60 + n, session_id="live"))
    got = personalised_search(searcher, rec, "ceramic mug", k=8, user_id="C2", now=NOW)
    assert got.hits and all(h.product.id.startswith("mug-") for h in got.hits)
    # and whatever moved stayed inside the relevance band: nothing boosted scored far below the best plain hit
    best = max(h.scores["plain"] for h in got.hits)
    assert all(h.scores["personal"] == 0.0 or h.scores["plain"] >= 0.8 * best for h in got.hits)


def test_owned_non_consumables_drop_down(shop):
    searcher, rec = shop
    plain = ids(searcher.search("ceramic mug", k=8))
    first = plain[0]
    _record(rec, "C3", [first])  # nobody bought a mug twice: the model's repeat rates say mugs are not consumables
    got = personalised_search(searcher, rec, "ceramic mug", k=8, user_id="C3", now=NOW)
    assert ids(got)[0] != first
    owned = next(h for h in got.hits if h.product.id == first)
    assert owned.scores["personal"] < max(h.scores["personal"] for h in got.hits)
    assert any("you already bought it" in w for w in owned.why)


def test_a_session_id_with_events_is_a_known_shopper(shop):
    searcher, rec = shop
    for n in range(6):
        rec.record(Event(type="view", user_id="session-abc", product_id="mug-3", ts=NOW - 300 + n, session_id="session-abc"))
    got = personalised_search(searcher, rec, "ceramic mug", k=8, user_id="session-abc", now=NOW)
    plain = ids(searcher.search("ceramic mug", k=8))
    assert ids(got) != plain and ids(got).index("mug-3") <= plain.index("mug-3")



@pytest.mark.slow
def test_cli_search_with_a_user_on_the_demo_shop(shopbot_home):
    """`shopbot search ... --user` reranks for the demo shop's most active shopper; without it, today's ranking."""
    import json

    from typer.testing import CliRunner

    from assistant.cli import app
    from assistant.config import get_settings

    runner = CliRunner()
    assert runner.invoke(app, ["index"]).exit_code == 0
    shop_events = [json.loads(line) for line in (get_settings().shop_dir / "events.jsonl").read_text().splitlines() if line]
    user = max({e["user_id"] for e in shop_events}, key=lambda u: sum(e["user_id"] == u for e in shop_events))

    def hits(*extra):
        out = runner.invoke(app, ["search", "tent", "--json", "-k", "6", *extra])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout[out.stdout.index("{"):])["hits"]

    plain = hits()
    assert not any("personal" in h["scores"] for h in plain)
    mine = hits("--user", user)
    assert mine and all("personal" in h["scores"] and "plain" in h["scores"] for h in mine)
    assert [h["id"] for h in hits("--user", "nobody-at-all")] == [h["id"] for h in plain]
