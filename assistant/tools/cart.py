"""Cart tool: pick the variant a shopper means (size, colour) and say what is missing or unavailable."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.shop.cart import CartLine
from assistant.tools.products import size_key
from retrieval.catalog import Product, Variant


class VariantChoice(BaseModel):
    """The variant chosen, or what the shopper still has to choose, or why it cannot be added."""

    line: CartLine | None = None
    ask: str | None = None  # "size" / "colour": a required choice the message did not make
    options: list[str] = []  # the in-stock values to offer for it
    problem: str = ""  # why it cannot be added as asked ("size 13 is not offered")


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def choose_variant(product: Product, size: str | None, colour: str | None, quantity: int = 1) -> VariantChoice:
    """The variant of `product` in `size` and `colour`; a choice the product needs and the shopper did not make
    is asked for, offering the values that are in stock."""
    variants: list[Variant] = product.variants
    if not variants:
        if product.in_stock is False:
            return VariantChoice(problem=f"{product.title} is sold out")
        return VariantChoice(line=CartLine(product_id=product.id, sku=product.id, title=product.title, quantity=quantity,
                                           unit_price=product.price, currency=product.currency))
    if size and not any(_same(v.size, size) for v in variants):
        return VariantChoice(problem=f"{product.title} is not offered in size {size}", ask="size",
                             options=sorted({v.size for v in variants if v.size and v.stock > 0}, key=size_key))
    if colour and not any(_same(v.colour, colour) for v in variants):
        return VariantChoice(problem=f"{product.title} is not offered in {colour}", ask="colour",
                             options=sorted({v.colour for v in variants if v.colour and v.stock > 0}))
    matching = [v for v in variants if (not size or _same(v.size, size)) and (not colour or _same(v.colour, colour))]
    for dimension, chosen in (("size", size), ("colour", colour)):
        values = {getattr(v, dimension) for v in matching if getattr(v, dimension)}
        if not chosen and len(values) > 1:
            in_stock = {getattr(v, dimension) for v in matching if getattr(v, dimension) and v.stock > 0}
            if not in_stock:
                return VariantChoice(problem=f"{product.title} is sold out")
            if len(in_stock) > 1:  # one value in stock: nothing to choose
                return VariantChoice(ask=dimension, options=sorted(in_stock, key=size_key if dimension == "size" else str))
    available = [v for v in matching if v.stock > 0]
    if not available:
        what = " in ".join(x for x in (f"size {size}" if size else "", colour or "") if x)
        return VariantChoice(problem=f"{product.title}{' in ' + what if what else ''} is sold out")
    v = next((x for x in available if x.stock >= quantity), max(available, key=lambda x: x.stock))
    return VariantChoice(line=CartLine(
        product_id=product.id, sku=v.sku, title=product.title, size=v.size, colour=v.colour,
        quantity=min(quantity, v.stock), unit_price=v.price if v.price is not None else product.price, currency=product.currency,
    ))
