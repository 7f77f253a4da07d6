"""Catalog import, embeddings, the Chroma store, hybrid search and recommendations."""

from retrieval.catalog import Product, Variant
from retrieval.config import RetrievalSettings
from retrieval.errors import CatalogError, RetrievalError

__all__ = ["CatalogError", "Product", "RetrievalError", "RetrievalSettings", "Variant"]
