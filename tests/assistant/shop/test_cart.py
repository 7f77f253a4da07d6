"""The per-session cart in SQLite."""

from __future__ import annotations

from assistant.shop.cart import MAX_QUANTITY, CartLine, CartStore


def _line(sku: str = "TENT-2-GREEN", quantity: int = 1, price: float = 100.0) -> CartLine:
    return CartLine(product_id="TENT", sku=sku, title="Tent", colour="Green", quantity=quantity, unit_price=price)


def test_add_accumulates_per_sku_and_sessions_are_separate(tmp_path):
    carts = CartStore(tmp_path / "s.db")
    carts.add("s1", _line(quantity=2))
    cart = carts.add("s1", _line(quantity=1))
    carts.add("s1", _line("TENT-2-RED", 1, 90.0))
    assert [(line.sku, line.quantity) for line in carts.get("s1").lines] == [("TENT-2-GREEN", 3), ("TENT-2-RED", 1)]
    assert cart.count == 3 and carts.get("s1").total == 390.0
    assert carts.get("s2").lines == []
    assert CartStore(tmp_path / "s.db").get("s1").count == 4  # survives a restart


def test_quantity_is_capped_and_remove_takes_some_or_all(tmp_path):
    carts = CartStore(tmp_path / "s.db")
    assert carts.add("s", _line(quantity=500)).count == MAX_QUANTITY
    assert carts.remove("s", "TENT-2-GREEN", 5).count == MAX_QUANTITY - 5
    assert carts.remove("s", "TENT-2-GREEN", 8).count == MAX_QUANTITY - 13  # keeps the 7 left
    assert carts.remove("s", "TENT-2-GREEN", 100).lines == []
    carts.add("s", _line(quantity=2))
    assert carts.remove("s", "TENT-2-GREEN").lines == []
