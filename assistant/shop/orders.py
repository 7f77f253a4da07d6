"""The order store: the shop's orders in SQLite, seeded idempotently from `orders.jsonl`.

Every read and write takes the customer's id and only ever touches that customer's orders: an order of
someone else looks exactly like an order that does not exist, so nobody can probe which numbers are
real. State changes follow the order's life cycle (cancel only while `placed`; address change only
before it ships; a return only once `delivered` and within the return window) and are recorded in the
order's history.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from assistant.shop.db import Database

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL,          -- the full order JSON (items, address, carrier, history)
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer ON orders(customer_id);
"""


class OrderItemView(BaseModel):
    product_id: str
    title: str
    quantity: int
    unit_price: float


class OrderView(BaseModel):
    """What the assistant may tell the order's own customer."""

    id: str
    status: str
    created_at: str
    items: list[OrderItemView]
    total: float
    currency: str
    carrier: str | None = None
    tracking_number: str | None = None
    estimated_delivery: str | None = None
    delivered_at: str | None = None
    ship_to: str  # city and region only: enough to recognise it, no street in chat
    history: list[dict]


class ActionResult(BaseModel):
    """Outcome of a state change: done, or refused with the reason a customer can act on."""

    ok: bool
    order: OrderView | None
    message: str


def _now() -> datetime:
    return datetime.now(UTC)


def _view(record: dict) -> OrderView:
    addr = record.get("shipping_address") or {}
    delivered = next((h["at"] for h in reversed(record.get("history", [])) if h.get("status") == "delivered"), None)
    return OrderView(
        id=record["id"],
        status=record["status"],
        created_at=str(record["created_at"]),
        items=[OrderItemView(**{k: i[k] for k in ("product_id", "title", "quantity", "unit_price")}) for i in record["items"]],
        total=float(record["total"]),
        currency=record.get("currency", "USD"),
        carrier=record.get("carrier"),
        tracking_number=record.get("tracking_number"),
        estimated_delivery=str(record["estimated_delivery"]) if record.get("estimated_delivery") else None,
        delivered_at=str(delivered) if delivered else None,
        ship_to=", ".join(p for p in (addr.get("city"), addr.get("region")) if p),
        history=record.get("history", []),
    )


class OrderStore:
    """Orders in the assistant's SQLite file (WAL); safe to share between threads and worker processes: each
    state change reads, checks and writes the order in one transaction (`assistant.shop.db`)."""

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._db = Database(self.db_path, _SCHEMA)

    def seed(self, orders: Iterable[BaseModel | dict]) -> int:
        """Insert orders not yet stored (by id); existing rows, and changes made to them, are kept."""
        rows = []
        for order in orders:
            record = order.model_dump(mode="json") if isinstance(order, BaseModel) else dict(order)
            rows.append((record["id"], record["customer_id"], record["status"], str(record["created_at"]),
                         json.dumps(record), _now().isoformat()))
        with self._db.transaction() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?, ?, ?)", rows)
            added = db.total_changes - before
        logger.info("order store %s: %d new of %d seeded", self.db_path, added, len(rows))
        return added

    def _record(self, order_id: str, customer_id: str | None) -> dict | None:
        if not customer_id:
            return None
        with self._db.locked() as db:  # re-entrant: also called inside the state changes' transactions
            row = db.execute(
                "SELECT record FROM orders WHERE id = ? AND customer_id = ?", (order_id.upper(), customer_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def get(self, order_id: str, customer_id: str | None) -> OrderView | None:
        """The order if it exists AND belongs to `customer_id`; None otherwise (indistinguishable)."""
        record = self._record(order_id, customer_id)
        return _view(record) if record else None

    def for_customer(self, customer_id: str | None, limit: int = 5) -> list[OrderView]:
        """The customer's most recent orders, newest first."""
        if not customer_id:
            return []
        with self._db.locked() as db:
            rows = db.execute(
                "SELECT record FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?", (customer_id, limit)
            ).fetchall()
        return [_view(json.loads(r[0])) for r in rows]

    def _save(self, db: sqlite3.Connection, record: dict, status: str, now: datetime) -> None:
        record["status"] = status
        record.setdefault("history", []).append({"status": status, "at": now.isoformat()})
        db.execute(
            "UPDATE orders SET status = ?, record = ?, updated_at = ? WHERE id = ?",
            (status, json.dumps(record), now.isoformat(), record["id"]),
        )

    def cancel(self, order_id: str, customer_id: str | None, *, now: datetime | None = None) -> ActionResult:
        """Cancel an order that has not shipped yet."""
        with self._db.transaction() as db:
            record = self._record(order_id, customer_id)
            if record is None:
                return ActionResult(ok=False, order=None, message=f"I can't find order {order_id} on your account.")
            if record["status"] != "placed":
                return ActionResult(
                    ok=False, order=_view(record),
                    message=f"Order {record['id']} is {record['status']}, so it can no longer be cancelled.",
                )
            self._save(db, record, "cancelled", now or _now())
            return ActionResult(ok=True, order=_view(record), message=f"Order {record['id']} is now cancelled.")

    def change_address(
        self, order_id: str, customer_id: str | None, address: dict, *, now: datetime | None = None
    ) -> ActionResult:
        """Replace the shipping address of an order that has not shipped yet (`address`: line1, city, ...)."""
        with self._db.transaction() as db:
            record = self._record(order_id, customer_id)
            if record is None:
                return ActionResult(ok=False, order=None, message=f"I can't find order {order_id} on your account.")
            if record["status"] != "placed":
                return ActionResult(
                    ok=False, order=_view(record),
                    message=f"Order {record['id']} is {record['status']}, so its address can no longer be changed.",
                )
            old = record.get("shipping_address") or {}
            record["shipping_address"] = {**old, **{k: v for k, v in address.items() if v}}
            moment = now or _now()
            db.execute(
                "UPDATE orders SET record = ?, updated_at = ? WHERE id = ?",
                (json.dumps(record), moment.isoformat(), record["id"]),
            )
            return ActionResult(ok=True, order=_view(record), message=f"The shipping address of order {record['id']} is updated.")

    def start_return(
        self, order_id: str, customer_id: str | None, window_days: int, *, now: datetime | None = None,
        exchange: bool = False,
    ) -> ActionResult:
        """Open a return (or, with `exchange`, an exchange) for a delivered order within `window_days` of delivery."""
        with self._db.transaction() as db:
            record = self._record(order_id, customer_id)
            if record is None:
                return ActionResult(ok=False, order=None, message=f"I can't find order {order_id} on your account.")
            view = _view(record)
            if record["status"] != "delivered" or not view.delivered_at:
                return ActionResult(
                    ok=False, order=view,
                    message=f"Order {record['id']} is {record['status']}; a return can only start once it is delivered.",
                )
            moment = now or _now()
            delivered = datetime.fromisoformat(view.delivered_at.replace("Z", "+00:00"))
            if moment - delivered > timedelta(days=window_days):
                return ActionResult(
                    ok=False, order=view,
                    message=f"Order {record['id']} was delivered on {delivered.date().isoformat()}, more than "
                    f"{window_days} days ago, so it is outside the {window_days}-day return window.",
                )
            record.setdefault("exchange_requested_at" if exchange else "return_requested_at", moment.isoformat())
            db.execute(
                "UPDATE orders SET record = ?, updated_at = ? WHERE id = ?",
                (json.dumps(record), moment.isoformat(), record["id"]),
            )
            return ActionResult(
                ok=True, order=_view(record),
                message=f"{'An exchange' if exchange else 'A return'} is started for order {record['id']}; the prepaid label and "
                "steps are in Your Account > Order History.",
            )

    def close(self) -> None:
        self._db.close()
