"""Product details and comparison tools: facts straight from the catalog records."""

from __future__ import annotations

from pydantic import BaseModel

from retrieval.catalog import Product


class ProductFacts(BaseModel):
    """The facts a reply may state about one product."""

    id: str
    title: str
    brand: str | None
    price: float | None
    currency: str
    in_stock: bool | None
    stock: int | None
    sizes: list[str]
    colours: list[str]
    rating: float | None
    highlights: list[str]  # bullets, as written in the catalog
    attributes: dict

    @classmethod
    def of(cls, p: Product) -> ProductFacts:
        return cls(
            id=p.id, title=p.title, brand=p.brand, price=p.price, currency=p.currency, in_stock=p.in_stock,
            stock=p.stock, sizes=p.sizes, colours=p.colours, rating=p.rating, highlights=p.bullets[:4],
            attributes={k: v for k, v in p.attributes.items() if not isinstance(v, list) or len(v) < 8},
        )


def product_details(searcher, product_ids: list[str]) -> list[Product]:
    """The catalog records of the given ids (unknown ids are skipped)."""
    return [p for p in (searcher.get(pid) for pid in product_ids) if p is not None]


class Comparison(BaseModel):
    products: list[ProductFacts]
    cheapest: str | None  # product id
    best_rated: str | None


def compare(products: list[Product]) -> Comparison:
    """Side-by-side facts of two or more products, with the cheapest and best rated named by id."""
    facts = [ProductFacts.of(p) for p in products]
    priced = [f for f in facts if f.price is not None]
    rated = [f for f in facts if f.rating is not None]
    return Comparison(
        products=facts,
        cheapest=min(priced, key=lambda f: f.price).id if len(priced) >= 2 else None,
        best_rated=max(rated, key=lambda f: f.rating).id if len(rated) >= 2 else None,
    )


def availability(product: Product, size: str | None, colour: str | None) -> tuple[bool, str]:
    """Yes or no, from the variants and their stock: "Yes, size 8 is in stock in Brown; Black is sold out."

    Returns (yes, the sentence). `size`/`colour` None = not asked about.
    """
    name = product.title.split(" - ")[0]
    wanted = " in ".join(x for x in (f"size {size}" if size else "", colour or "") if x) or "it"
    if not product.variants:
        if colour and colour.lower() not in " ".join(product.colours + [product.title]).lower():
            return False, f"No, {name} is not offered in {colour}."
        if product.in_stock is False:
            return False, f"No, {name} is sold out at the moment."
        return True, f"Yes, {name} is in stock." if product.in_stock else f"Yes, {name} is available."

    def same(a: str | None, b: str | None) -> bool:
        return (a or "").lower() == (b or "").lower()

    offered = [v for v in product.variants if (not size or same(v.size, size)) and (not colour or same(v.colour, colour))]
    if not offered:
        if size and not any(same(v.size, size) for v in product.variants):
            sizes = sorted({v.size for v in product.variants if v.size}, key=size_key)
            return False, f"No, {name} does not come in size {size}; sizes: {', '.join(sizes)}."
        colours = sorted({v.colour for v in product.variants if v.colour and (not size or same(v.size, size))})
        return False, f"No, {name} does not come in {wanted}; colours: {', '.join(colours)}."
    in_stock = [v for v in offered if v.stock > 0]
    if not in_stock:
        return False, f"No, {name} in {wanted} is sold out at the moment."
    # the other dimension: which colours have the size (or which sizes the colour)
    other = "colour" if size and not colour else "size" if colour and not size else None
    if other is None:
        return True, f"Yes, {name} in {wanted} is in stock."
    key = size_key if other == "size" else str
    have = sorted({getattr(v, other) for v in in_stock if getattr(v, other)}, key=key)
    sold = sorted({getattr(v, other) for v in offered if getattr(v, other)} - set(have), key=key)
    text = f"Yes, {wanted} is in stock" + (f" in {', '.join(have)}" if have and other == "colour" else
                                           f" in size {', '.join(have)}" if have else "")
    if sold:
        text += f"; {', '.join(sold) if other == 'colour' else 'size ' + ', '.join(sold)} {'is' if len(sold) == 1 else 'are'} sold out"
    return True, text + "."


def size_key(size: str) -> tuple[int, float, str]:
    """Sort key for sizes: numbers in order, then letter sizes XXS..XXXL, then the rest."""
    order = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]
    try:
        return (0, float(size), "")
    except ValueError:
        return (1, float(order.index(size.upper())) if size.upper() in order else 99.0, size)
