"""The order store: the shop's orders in the database (`storage`: SQLite or PostgreSQL), seeded idempotently from `orders.jsonl`.

Every read and write takes the customer's id and only ever touches that customer's orders: an order of
someone else looks exactly like an order that does not exist, so nobody can probe which numbers are
real. State changes follow the order's life cycle (cancel only while `placed`; address change only
before it ships; a return only once `delivered` and within the return window) and are recorded in the
order's history.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import Connection, text

from storage import Database

logger = logging.getLogger(__name__)



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
    """Orders in the shared database; safe to share between threads, worker processes and machines: a state
    change locks the order's row (SQLite: the file's write lock) and re-checks its status in the same
    transaction, so a cancel that two workers receive at once happens once.

    `db_path`: a SQLite file or a database URL (`storage.Database`).
    """

    def __init__(self, db_path: Path | str):
        self.db_path = db_path
        self._db = Database(db_path)

    def seed(self, orders: Iterable[BaseModel | dict]) -> int:
        """Insert orders not yet stored (by id); existing rows, and changes made to them, are kept."""
        rows = []
        for order in orders:
            record = order.model_dump(mode="json") if isinstance(order, BaseModel) else dict(order)
            rows.append({"id": record["id"], "customer_id": record["customer_id"], "status": record["status"],
                         "created_at": str(record["created_at"]), "record": json.dumps(record), "updated_at": _now().isoformat()})
        count = text("SELECT COUNT(*) FROM orders")
        with self._db.transaction() as db:
            before = db.execute(count).scalar_one()
            if rows:
                db.execute(text(
                    "INSERT INTO orders (id, customer_id, status, created_at, record, updated_at) "
                    "VALUES (:id, :customer_id, :status, :created_at, :record, :updated_at) ON CONFLICT (id) DO NOTHING"
                ), rows)
            added = db.execute(count).scalar_one() - before
        logger.info("order store: %d new of %d seeded", added, len(rows))
        return added

    def _record(self, db: Connection, order_id: str, customer_id: str | None, *, lock: bool = False) -> dict | None:
        if not customer_id:
            return None
        row = db.execute(
            text("SELECT record FROM orders WHERE id = :id AND customer_id = :customer" + (self._db.for_update if lock else "")),
            {"id": order_id.upper(), "customer": customer_id},
        ).fetchone()
        return json.loads(row[0]) if row else None

    def get(self, order_id: str, customer_id: str | None) -> OrderView | None:
        """The order if it exists AND belongs to `customer_id`; None otherwise (indistinguishable)."""
        with self._db.connect() as db:
            record = self._record(db, order_id, customer_id)
        return _view(record) if record else None

    def for_customer(self, customer_id: str | None, limit: int = 5) -> list[OrderView]:
        """The customer's most recent orders, newest first."""
        if not customer_id:
            return []
        with self._db.connect() as db:
            rows = db.execute(
                text("SELECT record FROM orders WHERE customer_id = :customer ORDER BY created_at DESC LIMIT :limit"),
                {"customer": customer_id, "limit": limit},
            ).fetchall()
        return [_view(json.loads(r[0])) for r in rows]

    @staticmethod
    def _write(db: Connection, record: dict, now: datetime, *, was: str) -> None:
        """Store `record`; the row must still have status `was` (the lock guarantees it; the WHERE proves it)."""
        changed = db.execute(
            text("UPDATE orders SET status = :status, record = :record, updated_at = :now WHERE id = :id AND status = :was"),
            {"status": record["status"], "record": json.dumps(record), "now": now.isoformat(), "id": record["id"], "was": was},
        ).rowcount
        if changed != 1:
            raise RuntimeError(f"order {record['id']} changed under a row lock; this is a bug")

    def cancel(self, order_id: str, customer_id: str | None, *, now: datetime | None = None) -> ActionResult:
        """Cancel an order that has not shipped yet."""
        with self._db.transaction() as db:
            record = self._record(db, order_id, customer_id, lock=True)
            if record is None:
                return ActionResult(ok=False, order=None, message=f"I can't find order {order_id} on your account.")
            if record["status"] != "placed":
                return ActionResult(
                    ok=False, order=_view(record),
                    message=f"Order {record['id']} is {record['status']}, so it can no longer be cancelled.",
                )
            moment = now or _now()
            record["status"] = "cancelled"
            record.setdefault("history", []).append({"status": "cancelled", "at": moment.isoformat()})
            self._write(db, record, moment, was="placed")
            return ActionResult(ok=True, order=_view(record), message=f"Order {record['id']} is now cancelled.")

    def change_address(
        self, order_id: str, customer_id: str | None, address: dict, *, now: datetime | None = None
    ) -> ActionResult:
        """Replace the shipping address of an order that has not shipped yet (`address`: line1, city, ...)."""
        with self._db.transaction() as db:
            record = self._record(db, order_id, customer_id, lock=True)
            if record is None:
                return ActionResult(ok=False, order=None, message=f"I can't find order {order_id} on your account.")
            if record["status"] != "placed":
                return ActionResult(
                    ok=False, order=_view(record),
                    message=f"Order {record['id']} is {record['status']}, so its address can no longer be changed.",
                )
            old = record.get("shipping_address") or {}
            record["shipping_address"] = {**old, **{k: v for k, v in address.items() if v}}
            self._write(db, record, now or _now(), was="placed")
            return ActionResult(ok=True, order=_view(record), message=f"The shipping address of order {record['id']} is updated.")

    def start_return(
        self, order_id: str, customer_id: str | None, window_days: int, *, now: datetime | None = None,
        exchange: bool = False,
    ) -> ActionResult:
        """Open a return (or, with `exchange`, an exchange) for a delivered order within `window_days` of delivery."""
        with self._db.transaction() as db:
            record = self._record(db, order_id, customer_id, lock=True)
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
            self._write(db, record, moment, was="delivered")
            return ActionResult(
                ok=True, order=_view(record),
                message=f"{'An exchange' if exchange else 'A return'} is started for order {record['id']}; the prepaid label and "
                "steps are in Your Account > Order History.",
            )

    def close(self) -> None:
        self._db.close()
