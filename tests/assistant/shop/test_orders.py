"""The SQLite order store: idempotent seeding, per-customer access, life-cycle rules, persistence."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from assistant.config import DEMO_SHOP_DIR
from assistant.shop import data as shop
from assistant.shop.orders import OrderStore


@pytest.fixture(scope="module")
def records():
    return shop.load_orders(DEMO_SHOP_DIR)


@pytest.fixture
def store(tmp_path, records):
    s = OrderStore(tmp_path / "shop.db")
    s.seed(records)
    return s


def first(records, status):
    return next(r for r in records if r.status == status)


def test_seed_is_idempotent_and_keeps_changes(tmp_path, records):
    store = OrderStore(tmp_path / "shop.db")
    assert store.seed(records) == len(records)
    placed = first(records, "placed")
    assert store.cancel(placed.id, placed.customer_id).ok
    assert store.seed(records) == 0
    assert store.get(placed.id, placed.customer_id).status == "cancelled"
    assert sqlite3.connect(tmp_path / "shop.db").execute("SELECT COUNT(*) FROM orders").fetchone()[0] == len(records)


def test_customer_sees_only_own_orders(store, records):
    order = records[0]
    other = next(r.customer_id for r in records if r.customer_id != order.customer_id)
    assert store.get(order.id, order.customer_id).id == order.id
    assert store.get(order.id, other) is None
    assert store.get(order.id, None) is None
    assert store.get("SB-99999", order.customer_id) is None  # same answer as someone else's order
    mine = store.for_customer(order.customer_id, limit=50)
    assert mine and all(o.id in {r.id for r in records if r.customer_id == order.customer_id} for o in mine)
    assert store.for_customer(None) == []


def test_other_customer_cannot_cancel(store, records):
    placed = first(records, "placed")
    other = next(r.customer_id for r in records if r.customer_id != placed.customer_id)
    result = store.cancel(placed.id, other)
    assert not result.ok and result.order is None
    assert store.get(placed.id, placed.customer_id).status == "placed"


def test_cancel_only_while_placed(store, records):
    shipped = first(records, "shipped")
    result = store.cancel(shipped.id, shipped.customer_id)
    assert not result.ok and "shipped" in result.message
    placed = first(records, "placed")
    done = store.cancel(placed.id, placed.customer_id)
    assert done.ok and done.order.status == "cancelled"
    assert done.order.history[-1]["status"] == "cancelled"


def test_change_address_before_shipping(store, records):
    placed = first(records, "placed")
    result = store.change_address(placed.id, placed.customer_id, {"line1": "12 Oak Street", "city": "Springfield"})
    assert result.ok and result.order.ship_to.startswith("Springfield")
    delivered = first(records, "delivered")
    assert not store.change_address(delivered.id, delivered.customer_id, {"line1": "1 Main St"}).ok


def test_return_window(store, records):
    delivered = first(records, "delivered")
    view = store.get(delivered.id, delivered.customer_id)
    at = datetime.fromisoformat(view.delivered_at.replace("Z", "+00:00"))
    late = store.start_return(delivered.id, delivered.customer_id, 30, now=at + timedelta(days=31))
    assert not late.ok and "30-day return window" in late.message
    ok = store.start_return(delivered.id, delivered.customer_id, 30, now=at + timedelta(days=5))
    assert ok.ok
    placed = first(records, "placed")
    assert not store.start_return(placed.id, placed.customer_id, 30, now=datetime.now(UTC)).ok


def test_changes_survive_restart(tmp_path, records):
    placed = first(records, "placed")
    store = OrderStore(tmp_path / "shop.db")
    store.seed(records)
    store.cancel(placed.id, placed.customer_id)
    store.close()
    reopened = OrderStore(tmp_path / "shop.db")
    reopened.seed(records)
    assert reopened.get(placed.id, placed.customer_id).status == "cancelled"
