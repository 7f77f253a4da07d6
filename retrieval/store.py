"""Chroma: the only module that imports `chromadb`.

`VectorCollection` is one Chroma collection holding our own vectors (we always pass embeddings in, so
Chroma never embeds). `ProductStore` keeps a catalog in one: the full Product JSON and a content hash in
each record's metadata, idempotent batched upserts (unchanged products skipped by hash), `sync` deletes,
and the bm25s `LexicalIndex` persisted beside it, rebuilt from what Chroma holds whenever that changes.

Embedded `PersistentClient` at the configured path by default, or an `HttpClient` for `chroma.url`
(a `chroma run` server); the rest of the code is the same. Our embedding function is registered with
Chroma under the name "shopbot", so reopening a collection rebuilds it from its saved config and never
reaches for Chroma's default (downloading) model.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from retrieval.catalog import Product
from retrieval.config import ChromaSettings
from retrieval.errors import RetrievalError
from retrieval.ingest import product_text
from retrieval.lexical import LexicalIndex

logger = logging.getLogger(__name__)

BATCH = 256  # products embedded and committed per upsert: a killed run loses at most one batch of work
DENSE_BODY_CHARS = 300  # bullets/description characters in the embedded text (title etc. always in full)
_TEXT_VERSION = "1"  # bump when product_text changes, so every product is re-embedded


@lru_cache(maxsize=1)
def _embedding_function_class():
    """Define and register (once) the Chroma embedding function that wraps our embedders."""
    from chromadb.api.types import EmbeddingFunction
    from chromadb.utils.embedding_functions import register_embedding_function

    class ShopbotEmbeddingFunction(EmbeddingFunction):
        """Chroma-facing wrapper: rebuilt from {kind, path, precision, dim} when a collection is reopened."""

        def __init__(self, embedder=None, config: dict[str, Any] | None = None):
            self._embedder = embedder
            self._config = config or _embedder_config(embedder)

        def _get(self):
            if self._embedder is None:  # reopened from config: load lazily, only if Chroma must embed
                from retrieval.embed import Embedder, HashingEmbedder

                cfg = self._config
                self._embedder = (
                    HashingEmbedder(cfg.get("dim", 256)) if cfg.get("kind") == "hashing"
                    else Embedder(cfg["path"], precision=cfg.get("precision") or ("int8" if cfg.get("quantize", True) else "fp32"))
                )
            return self._embedder

        def __call__(self, input):  # noqa: A002 (Chroma's protocol names it `input`)
            return [v for v in self._get().encode(list(input))]

        @staticmethod
        def name() -> str:
            return "shopbot"

        def get_config(self) -> dict[str, Any]:
            return dict(self._config)

        @staticmethod
        def build_from_config(config: dict[str, Any]):
            return ShopbotEmbeddingFunction(config=config)

        def default_space(self):
            return "cosine"

    register_embedding_function(ShopbotEmbeddingFunction)
    return ShopbotEmbeddingFunction


def _embedder_config(embedder) -> dict[str, Any]:
    kind = "transformers" if getattr(embedder, "path", None) else "hashing"
    return {"kind": kind, "path": str(embedder.path) if embedder.path else None,
            "precision": getattr(embedder, "precision", "fp32"), "dim": int(embedder.dim), "embedder": embedder.name}


_CLIENTS: dict[str, Any] = {}


def _client(chroma: ChromaSettings, path: Path):
    """One client per server URL or store folder per process."""
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    key = chroma.url or str(Path(path).resolve())
    if key not in _CLIENTS:
        client_settings = ChromaClientSettings(anonymized_telemetry=False)
        if chroma.url:
            url = urlparse(chroma.url)
            if not url.hostname:
                raise RetrievalError(f"chroma.url '{chroma.url}' is not a URL; use http://host:port (SHOPBOT_RETRIEVAL__CHROMA__URL).")
            _CLIENTS[key] = chromadb.HttpClient(
                host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https", settings=client_settings,
            )
        else:
            Path(path).mkdir(parents=True, exist_ok=True)
            _CLIENTS[key] = chromadb.PersistentClient(path=str(path), settings=client_settings)
    return _CLIENTS[key]


def collection_name(prefix: str, name: str) -> str:
    """A valid Chroma collection name (3-512 chars of [a-zA-Z0-9._-], alphanumeric at both ends)."""
    raw = re.sub(r"[^a-zA-Z0-9._-]+", "-", f"{prefix}-{name}").strip("-._")
    return raw[:500] if len(raw) >= 3 else f"{raw}-col"


class VectorCollection:
    """One Chroma collection of pre-computed vectors (cosine space, HNSW tuned from `ChromaSettings`)."""

    def __init__(self, chroma: ChromaSettings, path: Path, name: str, embedder):
        self.name = collection_name(chroma.collection_prefix, name)
        self.embedder = embedder
        ef_class = _embedding_function_class()
        client = _client(chroma, path)
        self._col = client.get_or_create_collection(
            self.name,
            embedding_function=ef_class(embedder),
            configuration={"hnsw": {"space": "cosine", "ef_construction": chroma.hnsw_construction_ef,
                                    "ef_search": chroma.hnsw_search_ef, "max_neighbors": chroma.hnsw_m}},
            metadata={"embedder": embedder.name, "dim": int(embedder.dim)},
        )
        built_with = (self._col.metadata or {}).get("embedder")
        if built_with and built_with != embedder.name:
            raise RetrievalError(
                f"Collection '{self.name}' was built with embedder '{built_with}', but '{embedder.name}' is "
                f"configured; set retrieval.embedding_model back, or delete the collection (remove "
                f"{'the collection on ' + chroma.url if chroma.url else path}) and run `shopbot index` again."
            )

    def count(self) -> int:
        return self._col.count()

    def upsert(self, ids: list[str], embeddings: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        self._col.upsert(ids=ids, embeddings=embeddings, documents=documents, metadatas=metadatas)

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 1000):
            self._col.delete(ids=ids[start : start + 1000])

    def pages(self, include: list[str], page: int = 2000) -> Iterable[dict]:
        """The whole collection as Chroma `get` results of up to `page` records with the `include` fields."""
        offset = 0
        while True:
            got = self._col.get(include=include, limit=page, offset=offset)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    def records(self, page: int = 2000) -> Iterable[tuple[str, str, dict]]:
        """Every (id, document, metadata), in pages."""
        for got in self.pages(["documents", "metadatas"], page):
            yield from zip(got["ids"], got["documents"], got["metadatas"], strict=True)

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest ids with cosine similarity, best first (fewer than `n` when the collection is smaller: Chroma
        allows that, so no count round trip per query)."""
        if n <= 0:
            return []
        got = self._col.query(query_embeddings=[vector], n_results=n, include=["distances"], where=where)
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self._col.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def drop(self, chroma: ChromaSettings, path: Path) -> None:
        _client(chroma, path).delete_collection(self.name)


@dataclass
class IndexReport:
    """What one `ProductStore.index` run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    total: int = 0


def record_hash(product: Product, embedder_name: str) -> str:
    """Changes when the product, the indexed text recipe or the embedder changes."""
    return hashlib.sha256(f"{product.content_hash()}|{_TEXT_VERSION}|{embedder_name}".encode()).hexdigest()[:16]


def dense_text(product: Product) -> str:
    return product_text(product, body_chars=DENSE_BODY_CHARS)


class ProductStore:
    """A catalog in Chroma plus its bm25s index (in `lexical_root/<collection name>/`)."""

    def __init__(self, chroma: ChromaSettings, path: Path, lexical_root: Path, embedder, name: str = "products"):
        self.vectors = VectorCollection(chroma, path, name, embedder)
        self.embedder = embedder
        self.lexical_dir = Path(lexical_root) / self.vectors.name
        self.products: dict[str, Product] = {}
        self.lexical: LexicalIndex | None = None
        self._matrix = np.zeros((0, 0), dtype=np.float16)  # every product vector, read by `load`
        self._matrix_row: dict[str, int] = {}

    def stored_hashes(self) -> dict[str, str]:
        return {pid: meta.get("hash", "") for pid, _, meta in self.vectors.records()}

    def index(
        self, products: list[Product], *, sync: bool = False, progress: Callable[[int], None] | None = None
    ) -> IndexReport:
        """Upsert products (skipping unchanged ones), optionally delete the rest, then refresh the lexical index.

        Commits every `BATCH` products, so a killed run re-run later only redoes the unfinished batch.
        `progress` is called with the number of products handled (embedded or skipped).
        """
        stored = self.stored_hashes()
        report = IndexReport()
        todo: list[tuple[Product, str]] = []
        for product in products:
            digest = record_hash(product, self.embedder.name)
            if stored.get(product.id) == digest:
                report.unchanged += 1
            else:
                todo.append((product, digest))
                if product.id in stored:
                    report.updated += 1
                else:
                    report.added += 1
        if progress and report.unchanged:
            progress(report.unchanged)
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            texts = [dense_text(p) for p, _ in batch]
            vectors = self.embedder.encode(texts)
            metadatas = [{"hash": h, "title": p.title[:200], "product": p.model_dump_json(exclude_defaults=True)} for p, h in batch]
            self.vectors.upsert([p.id for p, _ in batch], vectors, texts, metadatas)
            if progress:
                progress(len(batch))
        if sync:
            keep = {p.id for p in products}
            gone = [pid for pid in stored if pid not in keep]
            self.vectors.delete(gone)
            report.removed = len(gone)
        self.load(force_rebuild=bool(todo or report.removed))
        report.total = len(self.products)
        logger.info("indexed %s: %s", self.vectors.name, report)
        return report

    def load(self, *, force_rebuild: bool = False) -> None:
        """Read every product and its vector from Chroma; load the lexical index, rebuilding it if it does not
        match. The vectors stay in memory so that re-scoring candidates needs no Chroma round trip."""
        products: dict[str, Product] = {}
        lines = []
        vector_ids: list[str] = []
        chunks: list[np.ndarray] = []  # float16 rows: half the memory, ample precision for re-scoring
        for got in self.vectors.pages(["metadatas", "embeddings"]):
            for pid, meta in zip(got["ids"], got["metadatas"], strict=True):
                products[pid] = Product.model_validate_json(meta["product"])
                lines.append(f"{pid}:{meta.get('hash', '')}")
            vector_ids += got["ids"]
            chunks.append(np.asarray(got["embeddings"], dtype=np.float16))
        fingerprint = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]
        lexical = None if force_rebuild else LexicalIndex.load(self.lexical_dir)
        if lexical is None or lexical.fingerprint != fingerprint:
            ids = sorted(products)
            # Title twice: a word in the title says more about the product than one deep in the bullets.
            texts = [f"{products[i].title}. {product_text(products[i])}" for i in ids]
            lexical = LexicalIndex.build(ids, texts, fingerprint)
            lexical.save(self.lexical_dir)
            logger.info("rebuilt lexical index %s (%d products)", self.lexical_dir, len(ids))
        self.products = products
        self.lexical = lexical
        self._matrix = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float16)
        self._matrix_row = {pid: i for i, pid in enumerate(vector_ids)}
        # The catalog lives until the next load. Freezing it keeps the cyclic garbage collector from rescanning
        # every product object in each full collection, pauses that showed up as search latency spikes (p95).
        # Frozen objects are still freed by reference counting when a reload replaces them.
        gc.collect()
        gc.freeze()

    def product_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors of products, from memory (read at `load`), or from Chroma for ids indexed since."""
        found = [pid for pid in ids if pid in self._matrix_row]
        block = self._matrix[[self._matrix_row[pid] for pid in found]].astype(np.float32)
        out = dict(zip(found, block, strict=True))
        missing = [pid for pid in ids if pid not in self._matrix_row]
        if missing:
            out.update(self.vectors.vectors(missing))
        return out

