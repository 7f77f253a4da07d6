"""Catalog import, embeddings, the Chroma store, hybrid search and recommendations."""

from retrieval.catalog import Product, Variant
from retrieval.config import RetrievalSettings
from retrieval.errors import CatalogError, IndexNotFoundError, RetrievalError
from retrieval.ingest import CatalogLoad, Reject, load_catalog
from retrieval.query import Filters, parse_query

# Search names pull numpy/bm25s; they load on first use so `import retrieval` (and `shopbot --help`) stays light.
_LAZY_SEARCH = {
    "Embedder": "retrieval.embed", "HashingEmbedder": "retrieval.embed", "ProductStore": "retrieval.store",
    "Searcher": "retrieval.search", "SearchResult": "retrieval.search", "Hit": "retrieval.search",
    "open_searcher": "retrieval.search", "open_store": "retrieval.search", "DocumentIndex": "retrieval.documents",
    "DocHit": "retrieval.documents", "Document": "retrieval.documents", "load_documents": "retrieval.documents",
    "open_documents": "retrieval.documents",
    # recommendations (numpy/scipy; implicit and sklearn load only when training)
    "Event": "retrieval.recs.events", "EventStore": "retrieval.recs.events", "Recommender": "retrieval.recs.recommend",
    "Recommendation": "retrieval.recs.recommend", "RecsContext": "retrieval.recs.recommend",
    "open_recommender": "retrieval.recs.recommend", "train_recommender": "retrieval.recs.recommend",
}


def __getattr__(name: str):
    if name in _LAZY_SEARCH:
        import importlib

        return getattr(importlib.import_module(_LAZY_SEARCH[name]), name)
    raise AttributeError(f"module 'retrieval' has no attribute {name!r}")


__all__ = ["CatalogError", "CatalogLoad", "Filters", "IndexNotFoundError", "Product", "Reject", "RetrievalError",
           "RetrievalSettings", "Variant", "load_catalog", "parse_query", *_LAZY_SEARCH]
