"""The assistant's tools against the real demo-shop indexes (Chroma + bm25) and real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from assistant.config import DEMO_SHOP_DIR
from assistant.conversation.contract import ProductCard
from assistant.shop import data as shop
from assistant.shop.orders import OrderStore
from assistant.shop.tickets import TicketStore
from assistant.tools import orders as order_tools
from assistant.tools.policies import search_policies
from assistant.tools.products import compare, product_details
from assistant.tools.recommend import recommend
from assistant.tools.search import search_products


def test_search_returns_products_with_reasons(shop_indexes):
    searcher, _, _ = shop_indexes
    out = search_products(searcher, "waterproof hiking boots", k=5)
    assert 0 < len(out.products) <= 5
    assert any("boot" in p.title.lower() for p in out.products)
    card = ProductCard.of(out.products[0], out.reasons[out.products[0].id])
    assert card.id == out.products[0].id and card.price == out.products[0].price


def test_details_and_compare(shop_indexes):
    searcher, _, _ = shop_indexes
    ids = [p.id for p in search_products(searcher, "rain jacket", k=3).products]
    products = product_details(searcher, ids + ["NOPE"])
    assert [p.id for p in products] == ids
    result = compare(products)
    cheapest = min(products, key=lambda p: p.price)
    assert result.cheapest == cheapest.id and len(result.products) == len(products)


def test_policies_cite_the_returns_document(shop_indexes):
    _, documents, _ = shop_indexes
    out = search_policies(documents, "how many days do I have to return an item", k=3)
    assert out.citations and len({c.doc_id for c in out.citations}) == len(out.citations)
    assert "returns" in [c.doc_id for c in out.citations]


def test_policy_snippets_keep_leading_figures_and_drop_bullet_markers():
    text = "# Returns\n\n- 30 days is the return window for unworn items.\n- A $5.95 label fee applies, e.g. for mail returns."
    documents = SimpleNamespace(search=lambda query, k: [SimpleNamespace(doc_id="returns", title="Returns", text=text)])
    snippet = search_policies(documents, "how many days do I have to return", k=1).citations[0].snippet
    assert snippet == "30 days is the return window for unworn items. A $5.95 label fee applies, e.g. for mail returns."


def test_return_window_read_from_policy():
    policies = shop.load_policies(DEMO_SHOP_DIR)
    assert order_tools.return_window_days([p.text for p in policies if "return" in p.doc_id]) == 30
    assert order_tools.return_window_days(["nothing here"]) == order_tools.DEFAULT_RETURN_DAYS


def test_recommend_without_a_recommender_uses_search(shop_indexes):
    searcher, _, _ = shop_indexes
    out = recommend(None, searcher, None, "camping tent", k=3)
    assert len(out.products) == 3 and not out.personalised and all(out.reasons[p.id] for p in out.products)
    assert all(p.in_stock is not False for p in out.products)


def test_handoff_ticket_is_stored_redacted(tmp_path):
    tickets = TicketStore(tmp_path / "t.db")
    ticket = tickets.create("sess", "C001", "talk to a human", "customer jane@example.com asked about SB-10001")
    stored = tickets.get(ticket.id)
    assert stored.reason == "talk to a human" and "[EMAIL]" in stored.summary and "SB-10001" in stored.summary


def test_order_tools_propose_then_execute(tmp_path):
    records = shop.load_orders(DEMO_SHOP_DIR)
    store = OrderStore(tmp_path / "o.db")
    store.seed(records)
    placed = next(r for r in records if r.status == "placed")
    assert order_tools.lookup(store, None, [placed.id]).needs_sign_in
    other = next(r.customer_id for r in records if r.customer_id != placed.customer_id)
    assert order_tools.lookup(store, other, [placed.id]).missing == [placed.id]
    proposal = order_tools.propose(store, placed.customer_id, "cancel", placed.id, window_days=30)
    assert proposal.allowed and "yes, cancel" in proposal.message
    assert store.get(placed.id, placed.customer_id).status == "placed"  # nothing changes before the yes
    assert order_tools.execute(store, placed.customer_id, proposal, window_days=30).ok
    assert store.get(placed.id, placed.customer_id).status == "cancelled"


def test_return_proposal_respects_window(tmp_path):
    records = shop.load_orders(DEMO_SHOP_DIR)
    store = OrderStore(tmp_path / "o.db")
    store.seed(records)
    d = next(r for r in records if r.status == "delivered")
    at = datetime.fromisoformat(store.get(d.id, d.customer_id).delivered_at.replace("Z", "+00:00"))
    assert order_tools.propose(store, d.customer_id, "start_return", d.id, window_days=30, now=at + timedelta(days=2)).allowed
    late = order_tools.propose(store, d.customer_id, "start_return", d.id, window_days=30, now=at + timedelta(days=40))
    assert not late.allowed and "return window" in late.message
    shipped = next(r for r in records if r.status == "shipped")  # not yet here: when it can start, and for how long
    early = order_tools.propose(store, shipped.customer_id, "start_return", shipped.id, window_days=30)
    assert not early.allowed and "once it is delivered" in early.message and "30 days from delivery" in early.message
    assert order_tools.parse_address("change the address of SB-10001 to 12 Oak Street, Springfield, IL 62701") == {
        "line1": "12 Oak Street", "city": "Springfield", "region": "IL", "postal_code": "62701"}
    assert order_tools.parse_address("I would like SB-10055 sent elsewhere, please: 7 Willow Court, Montpelier, VT 05602.") == {
        "line1": "7 Willow Court", "city": "Montpelier", "region": "VT", "postal_code": "05602"}
    assert order_tools.parse_address("the time is 10 30") is None  # a street has a name
    assert datetime.now(UTC)  # clock used by default
