"""The shopper's cart, per session (SQLite): lines of a variant (sku) and a quantity.

The cart is the assistant's own record of what the shopper asked to add; the `add_to_cart` action event
lets the shop's page put the same items in its real cart (see docs/api.md). Prices are the catalog's at
the time of adding and are shown as such.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from assistant.shop.db import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cart_lines (
    session_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    product_id TEXT NOT NULL,
    title TEXT NOT NULL,
    size TEXT,
    colour TEXT,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL,
    currency TEXT NOT NULL DEFAULT 'USD',
    added_at REAL NOT NULL,
    PRIMARY KEY (session_id, sku)
);
"""
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
    """Carts in the assistant's SQLite file, keyed by session."""

    def __init__(self, db_path: Path):
        self._db = Database(db_path, _SCHEMA)

    def get(self, session_id: str) -> Cart:
        with self._db.locked() as db:
            rows = db.execute(
                "SELECT product_id, sku, title, size, colour, quantity, unit_price, currency FROM cart_lines "
                "WHERE session_id = ? ORDER BY added_at, sku", (session_id,)).fetchall()
        fields = list(CartLine.model_fields)
        return Cart(lines=[CartLine(**dict(zip(fields, tuple(row), strict=True))) for row in rows])

    def add(self, session_id: str, line: CartLine) -> Cart:
        """Add `line.quantity` of the sku (on top of what the cart has, capped at MAX_QUANTITY)."""
        with self._db.locked() as db:
            db.execute(
                "INSERT INTO cart_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, sku) DO UPDATE "
                "SET quantity = MIN(quantity + excluded.quantity, ?)",
                (session_id, line.sku, line.product_id, line.title, line.size, line.colour, min(line.quantity, MAX_QUANTITY),
                 line.unit_price, line.currency, time.time(), MAX_QUANTITY),
            )
        return self.get(session_id)

    def remove(self, session_id: str, sku: str, quantity: int | None = None) -> Cart:
        """Remove `quantity` of the sku (all of it when None)."""
        with self._db.transaction() as db:
            if quantity is None:
                db.execute("DELETE FROM cart_lines WHERE session_id = ? AND sku = ?", (session_id, sku))
            else:
                # delete first: a line that keeps some units must not be re-tested against `quantity`
                db.execute("DELETE FROM cart_lines WHERE session_id = ? AND sku = ? AND quantity <= ?", (session_id, sku, quantity))
                db.execute("UPDATE cart_lines SET quantity = quantity - ? WHERE session_id = ? AND sku = ?",
                           (quantity, session_id, sku))
        return self.get(session_id)
