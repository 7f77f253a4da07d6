"""Recommendations tool: the personalised `retrieval.recs.recommend.Recommender` when the shop has one,
otherwise (no recommender built yet) the best-rated in-stock products matching the request."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from retrieval.catalog import Product

logger = logging.getLogger(__name__)


class RecsOutput(BaseModel):
    products: list[Product]
    reasons: dict[str, str]
    personalised: bool


def recommend(
    recommender, searcher, user_id: str | None, query: str, k: int = 4, context: dict | None = None
) -> RecsOutput:
    """`k` products for the shopper, each with a reason the assistant can say.

    `context` holds `retrieval.recs.recommend.RecsContext` fields from the dialogue (category, min/max price,
    goes_with: the cart or the product discussed, exclude); `query` is added to it.
    """
    context = {**(context or {}), **({"query": query} if query else {})}
    if recommender is not None:
        recs = recommender.recommend(user_id, k=k, context=context or None)
        products, reasons = [], {}
        for r in recs:
            p = searcher.get(r.product_id)
            if p is not None:
                products.append(p)
                reasons[p.id] = r.reason
        if products:
            return RecsOutput(products=products, reasons=reasons, personalised=True)
    hits = searcher.search(query or "popular best rated", k=k * 3).hits
    skip = set(context.get("goes_with", [])) | set(context.get("exclude", []))
    ranked = sorted(
        (h.product for h in hits if h.product.in_stock is not False and h.product.id not in skip),
        key=lambda p: -((p.rating or 0) * min(1.0, (p.rating_count or 0) / 50)),
    )[:k]
    return RecsOutput(
        products=ranked, reasons={p.id: f"rated {p.rating:.1f}/5" if p.rating else "matches your request" for p in ranked},
        personalised=False,
    )
