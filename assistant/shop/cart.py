"""The shopper's cart, per session (in the shared database, `storage`): lines of a variant (sku) and a quantity.

The cart is the assistant's own record of what the shopper asked to add; the `add_to_cart` action event
lets the shop's page put the same items in its real cart (see docs/api.md). Prices are the catalog's at
the time of adding and are shown as such.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import text

from storage import Database

MAX_QUANTITY = 20  # per line: a chat is no bulk-order channel


class CartLine(BaseModel):
    product_id: str
    sku: str
    title: str
    size: str | None = None
    colour: str | None = None
    quantity: int
    unit_price: float | None = None
    currency: str = "USD"


class Cart(BaseModel):
    lines: list[CartLine] = []

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> float:
        return round(sum((line.unit_price or 0.0) * line.quantity for line in self.lines), 2)


class CartStore:
    """Carts in the shared database, keyed by session (`db_path`: a SQLite file or a database URL)."""

    def __init__(self, db_path: Path | str):
        self._db = Database(db_path)

    def get(self, session_id: str) -> Cart:
        with self._db.connect() as db:
            rows = db.execute(text(
                "SELECT product_id, sku, title, size, colour, quantity, unit_price, currency FROM cart_lines "
                "WHERE session_id = :session ORDER BY added_at, sku"), {"session": session_id}).fetchall()
        fields = list(CartLine.model_fields)
        return Cart(lines=[CartLine(**dict(zip(fields, tuple(row), strict=True))) for row in rows])

    def add(self, session_id: str, line: CartLine) -> Cart:
        """Add `line.quantity` of the sku (on top of what the cart has, capped at MAX_QUANTITY)."""
        with self._db.connect() as db:
            db.execute(text(
                "INSERT INTO cart_lines (session_id, sku, product_id, title, size, colour, quantity, unit_price, currency, added_at) "
                "VALUES (:session, :sku, :product_id, :title, :size, :colour, :quantity, :unit_price, :currency, :added_at) "
                "ON CONFLICT (session_id, sku) DO UPDATE SET quantity = CASE "
                "WHEN cart_lines.quantity + excluded.quantity > :max THEN :max ELSE cart_lines.quantity + excluded.quantity END"),
                {"session": session_id, "sku": line.sku, "product_id": line.product_id, "title": line.title, "size": line.size,
                 "colour": line.colour, "quantity": min(line.quantity, MAX_QUANTITY), "unit_price": line.unit_price,
                 "currency": line.currency, "added_at": time.time(), "max": MAX_QUANTITY},
            )
        return self.get(session_id)

    def remove(self, session_id: str, sku: str, quantity: int | None = None) -> Cart:
        """Remove `quantity` of the sku (all of it when None)."""
        key = {"session": session_id, "sku": sku, "quantity": quantity}
        with self._db.transaction() as db:
            if quantity is None:
                db.execute(text("DELETE FROM cart_lines WHERE session_id = :session AND sku = :sku"), key)
            else:
                # delete first: a line that keeps some units must not be re-tested against `quantity`
                db.execute(text("DELETE FROM cart_lines WHERE session_id = :session AND sku = :sku AND quantity <= :quantity"), key)
                db.execute(text("UPDATE cart_lines SET quantity = quantity - :quantity WHERE session_id = :session AND sku = :sku"), key)
        return self.get(session_id)
