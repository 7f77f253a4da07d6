"""Catalog search tool: the shop's hybrid search (`retrieval.search.Searcher`) as product cards."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from assistant.conversation.guardrails import redact_pii
from retrieval.catalog import Product

logger = logging.getLogger(__name__)


class SearchOutput(BaseModel):
    query: str
    products: list[Product]
    reasons: dict[str, str]  # product id -> why it matched
    filters: dict  # what the query was understood as


def search_products(searcher, query: str, k: int = 5) -> SearchOutput:
    """Top `k` products for `query` (filters such as "under $100" or "size 10" are parsed by the searcher)."""
    result = searcher.search(query, k=k)
    products = [h.product for h in result.hits]
    reasons = {h.product.id: "; ".join(h.why[:2]) for h in result.hits}
    filters = result.filters.model_dump(exclude_none=True) if hasattr(result.filters, "model_dump") else dict(
        (k2, v) for k2, v in vars(result.filters).items() if v not in (None, [], {}, False)
    )
    logger.info("search -> %d hits in %.0f ms", len(products), getattr(result, "latency_ms", 0.0))
    logger.debug("search query %r", redact_pii(query))  # customer text only at DEBUG, redacted
    return SearchOutput(query=query, products=products, reasons=reasons, filters=filters)
