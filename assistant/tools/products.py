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
