"""The shipped demo shop is complete, consistent and exactly what `scripts/make_demo_shop.py` writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from assistant.config import DEMO_SHOP_DIR
from assistant.shop.data import (
    ORDER_STATUSES,
    load_customers,
    load_dialogs,
    load_orders,
    load_policies,
    load_profile,
)
from retrieval.catalog import Product

REPO = Path(__file__).resolve().parents[3]

# Intent groups the dialogs must cover; any one name of a group counts.
REQUIRED_INTENTS = [
    {"cancel_order"}, {"track_order"}, {"change_order", "change_shipping_address"}, {"get_refund"}, {"return_item"},
    {"delivery_options", "delivery_period"}, {"payment_issue", "check_payment_methods"},
    {"create_account", "recover_password"}, {"contact_human_agent"}, {"product_question"}, {"product_search"},
    {"compare_products"}, {"recommendation"}, {"policy_question"}, {"complaint"}, {"chit_chat"}, {"out_of_scope"},
]


@pytest.fixture(scope="module")
def catalog() -> dict[str, Product]:
    lines = (DEMO_SHOP_DIR / "catalog.jsonl").read_text(encoding="utf-8").splitlines()
    products = [Product.model_validate_json(line) for line in lines]
    ids = [p.id for p in products]
    assert len(ids) == len(set(ids)), "duplicate product ids"
    return {p.id: p for p in products}


@pytest.fixture(scope="module")
def skus(catalog: dict[str, Product]) -> dict[str, str]:
    """sku -> product id; a product without variants is bought by its id."""
    found: dict[str, str] = {}
    for p in catalog.values():
        for sku in [v.sku for v in p.variants] or [p.id]:
            assert sku not in found, f"duplicate sku {sku}"
            found[sku] = p.id
    return found


def test_catalog_size_categories_and_brands(catalog: dict[str, Product]) -> None:
    assert len(catalog) >= 300
    assert len({tuple(p.category) for p in catalog.values()}) >= 10
    assert 8 <= len({p.brand for p in catalog.values()}) <= 15
    assert (DEMO_SHOP_DIR / "catalog.jsonl").stat().st_size < 1_500_000


def test_products_are_complete_and_consistent(catalog: dict[str, Product], skus: dict[str, str]) -> None:
    profile = load_profile(DEMO_SHOP_DIR)
    for p in catalog.values():
        assert re.fullmatch(r"TH-[A-Z]+-\d{3}", p.id), p.id
        assert p.price and p.price > 0 and p.currency == profile.currency and p.brand and p.rating_count is not None
        assert 2 <= len(re.findall(r"[.!?](\s|$)", p.description)) <= 4, p.description
        assert 3 <= len(p.bullets) <= 5, p.id
        assert p.url == f"{profile.website}/p/{p.id}"
        assert p.stock == (sum(v.stock for v in p.variants) if p.variants else p.stock) and p.stock is not None
        assert "warranty_years" in p.attributes and "waterproof" in p.attributes, p.id
    titles = [p.title for p in catalog.values()]
    assert len(set(titles)) == len(titles)
    assert len({p.description for p in catalog.values()}) == len(catalog)
    stock = [p.stock for p in catalog.values()]
    assert sum(s == 0 for s in stock) >= 5 and sum(0 < s <= 5 for s in stock) >= 5  # out of stock and low stock exist
    cheap_waterproof_boots = [p for p in catalog.values() if p.category[-1] == "Hiking Boots"
                              and p.attributes["waterproof"] and p.price < 100]
    assert cheap_waterproof_boots


def _numbers(text: str) -> set[float]:
    return {abs(float(n)) for n in re.findall(r"-?\d+(?:\.\d+)?", text)}


def test_copy_states_only_facts_from_attributes(catalog: dict[str, Product]) -> None:
    """Every number in a description or bullet is an attribute value, and 'waterproof' claims match the flag."""
    for p in catalog.values():
        known = _numbers(p.title)
        for value in p.attributes.values():
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, bool):
                    known |= _numbers(str(item))
        for text in [p.description, *p.bullets]:
            assert _numbers(text) <= known, (p.id, text)
            for match in re.finditer(r"(not |non-)?waterproof\b", text, re.IGNORECASE):
                if "mm waterproof" not in text:
                    assert bool(match.group(1)) != bool(p.attributes["waterproof"]), (p.id, text)


def test_orders_reference_customers_and_products(catalog: dict[str, Product], skus: dict[str, str]) -> None:
    customers = {c.id for c in load_customers(DEMO_SHOP_DIR)}
    orders = load_orders(DEMO_SHOP_DIR)
    assert len(customers) >= 24 and len(orders) >= 60
    assert len({o.id for o in orders}) == len(orders)
    counts = Counter(o.status for o in orders)
    assert all(counts[s] >= 8 for s in ORDER_STATUSES), counts
    for o in orders:
        assert o.customer_id in customers, o.id
        for item in o.items:
            assert skus.get(item.sku) == item.product_id, (o.id, item.sku)
            assert item.title == catalog[item.product_id].title
        assert o.total == pytest.approx(sum(i.quantity * i.unit_price for i in o.items), abs=0.005), o.id
        assert o.history[0].status == "placed" and o.history[-1].status == o.status, o.id
        assert [h.at for h in o.history] == sorted(h.at for h in o.history), o.id
        assert (o.tracking_number is not None) == (o.status in ("shipped", "delivered", "returned")), o.id
        if o.status in ("shipped", "delivered"):
            assert o.carrier and o.estimated_delivery, o.id


def test_events_follow_customers_and_orders(catalog: dict[str, Product]) -> None:
    customers = load_customers(DEMO_SHOP_DIR)
    orders = load_orders(DEMO_SHOP_DIR)
    from retrieval.recs.events import Event

    lines = (DEMO_SHOP_DIR / "events.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        Event.model_validate_json(line)  # what EventStore.import_jsonl accepts
    events = [json.loads(line) for line in lines]
    ids = {c.id for c in customers}
    assert {e["type"] for e in events} == {"view", "click", "add_to_cart", "purchase", "search", "rate"}
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    for e in events:
        assert e["user_id"] in ids and e["session_id"] and e["ts"] <= "2026-11-20T15:00:00Z"
        assert (e["product_id"] is None) == (e["type"] == "search"), e
        if e["product_id"]:
            assert e["product_id"] in catalog, e
    per_user = Counter(e["user_id"] for e in events)
    assert all(per_user[c] >= 10 for c in ids), per_user
    bought = {(o.customer_id, i.product_id, o.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
              for o in orders if o.status != "cancelled" for i in o.items}
    purchases = {(e["user_id"], e["product_id"], e["ts"]) for e in events if e["type"] == "purchase"}
    assert purchases == bought
    # clear tastes: most of each customer's product events fall in their declared interests
    for c in customers:
        leaves = [catalog[e["product_id"]].category[-1] for e in events if e["user_id"] == c.id and e["product_id"]]
        assert sum(leaf in c.interests for leaf in leaves) / len(leaves) >= 0.75, c.id


def test_dialogs_alternate_and_cover_intents() -> None:
    dialogs = load_dialogs(DEMO_SHOP_DIR)  # the model checks user-first alternation and the final assistant turn
    assert len(dialogs) >= 70
    assert len({d.id for d in dialogs}) == len(dialogs)
    intents = {d.intent for d in dialogs}
    missing = [group for group in REQUIRED_INTENTS if not group & intents]
    assert not missing, missing
    assert all(1 <= len(d.messages) // 2 <= 3 for d in dialogs)
    customers = {c.id for c in load_customers(DEMO_SHOP_DIR)}
    orders = {o.id: o for o in load_orders(DEMO_SHOP_DIR)}
    for d in dialogs:
        assert d.customer_id is None or d.customer_id in customers
        for order_id in re.findall(r"SB-\d+", " ".join(m.content for m in d.messages)):
            assert orders[order_id].customer_id == d.customer_id, (d.id, order_id)


def test_placeholders_in_dialogs_are_known_to_the_profile() -> None:
    from prompts.loader import fill_placeholders

    values = load_profile(DEMO_SHOP_DIR).placeholder_values()
    for d in load_dialogs(DEMO_SHOP_DIR):
        for m in d.messages:
            _, unknown = fill_placeholders(m.content, values)
            assert not unknown, (d.id, unknown)


@pytest.mark.slow
def test_profile_covers_common_bitext_placeholders(shared_data: Path) -> None:
    """The shop-level placeholders used in at least 10 Bitext responses all have values (per-order ones excepted)."""
    import csv

    from prompts.loader import placeholders

    counts: Counter[str] = Counter()
    with (shared_data / "bitext" / "customer_support_dialogs.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            counts.update(placeholders(row["response"]))
    per_order = re.compile(r"anonymized|order number|order id|purchase id|invoice number", re.IGNORECASE)
    known = {k.lower() for k in load_profile(DEMO_SHOP_DIR).placeholder_values()}
    common = [name for name, n in counts.items() if n >= 10 and not per_order.search(name)]
    assert common
    assert [name for name in common if name.lower() not in known] == []


def test_policies_are_titled_and_agree_with_the_profile() -> None:
    policies = load_policies(DEMO_SHOP_DIR)
    assert len(policies) >= 12
    text = "\n".join(p.text for p in policies)
    profile = load_profile(DEMO_SHOP_DIR)
    assert profile.phone in text and profile.email in text and profile.support_hours in text
    for figure in ["30 days of delivery", "$75", "3 to 5 business days", "within 2 business days"]:
        assert figure in text, figure
    assert "30 days" in {p.doc_id: p.text for p in policies}["returns"]


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_shop.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    shipped = sorted(p.relative_to(DEMO_SHOP_DIR) for p in DEMO_SHOP_DIR.rglob("*") if p.is_file())
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert shipped == written
    for rel in shipped:
        assert (tmp_path / rel).read_bytes() == (DEMO_SHOP_DIR / rel).read_bytes(), f"{rel} differs: rerun the script"
