"""Hybrid product search: query understanding -> typo repair -> bm25 + dense candidates -> filters ->
reciprocal rank fusion -> feature rerank with pseudo-relevance feedback. Every hit carries its scores and
why it matched.

Typo repair is a guess against the lexical vocabulary, so only BM25 gets the repaired words; the dense model
reads subwords and gets the text as typed ("ecloth" is a brand, not "cloth"). Negated words ("without
block") stay in the retrieval text, so products stating the absence are found, but rank features count only
the wanted words and products naming an excluded word in their title rank lower.

`Searcher.search(..., mode=...)` also runs the plain configurations the evaluation compares: "bm25"
and "dense" (one retriever, raw query), "hybrid" (RRF of both, raw query) and "default" (everything).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.attributes import AttributeSchema
from retrieval.catalog import Product
from retrieval.config import RetrievalSettings
from retrieval.errors import IndexNotFoundError, RetrievalError
from retrieval.lexical import analyze, stem, words
from retrieval.query import NEGATORS, Filters, ParsedQuery, parse_query
from retrieval.rerank import Candidate, FeatureReranker, QueryTerms, rrf
from retrieval.store import ProductStore

logger = logging.getLogger(__name__)

MODES = ("default", "hybrid", "bm25", "dense")
_ABSENCE = NEGATORS | {"no", "non", "w"}  # words a title uses to say it lacks something; "w/o" splits into "w", "o"


@dataclass
class Hit:
    """One search result."""

    product: Product
    score: float
    scores: dict[str, float] = field(default_factory=dict)  # bm25, dense, rrf, rerank features
    why: list[str] = field(default_factory=list)  # how it matched, scores included (debug, --json)
    reason: str = ""  # for the shopper: the attributes that answer the request ("sleeps 3 · 1.9 kg")


@dataclass
class SearchResult:
    """Hits best first, plus what the query was understood as."""

    query: str
    hits: list[Hit]
    filters: Filters
    text: str  # the text actually searched (filters removed, typos repaired)
    corrections: dict[str, str] = field(default_factory=dict)
    latency_ms: float = 0.0
    excluded: list[str] = field(default_factory=list)  # words the shopper does not want ("without block")


class Searcher:
    """Searches one indexed catalog. Build it with `open_searcher`."""

    def __init__(self, store: ProductStore, settings: RetrievalSettings, reranker: FeatureReranker | None = None):
        self.store = store
        self.settings = settings
        self.reranker = reranker or FeatureReranker()
        self._titles: dict[str, list[str]] = {}
        self._refresh_vocabularies()

    def _refresh_vocabularies(self) -> None:
        products = self.store.products.values()
        self.brands = tuple(sorted({p.brand for p in products if p.brand}))
        self.categories = tuple(sorted({c for p in products for c in p.category}))
        self.schema = AttributeSchema.from_products(products)

    def reload(self) -> None:
        """Pick up a re-index done by another process."""
        self.store.load()
        self._titles.clear()
        self._refresh_vocabularies()

    def get(self, product_id: str) -> Product | None:
        return self.store.products.get(product_id)

    def __len__(self) -> int:
        return len(self.store.products)

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, *, mode: str = "default") -> SearchResult:
        """Search the catalog.

        Args:
            query: what the shopper typed; price/size/stock/colour/brand/category phrases become filters.
            k: hits to return (default `settings.top_k`).
            filters: explicit filters from the caller; hard constraints, merged over the parsed ones.
            mode: "default" (full pipeline) or one of the evaluation baselines "hybrid", "bm25", "dense".
        """
        if mode not in MODES:
            raise RetrievalError(f"Unknown search mode '{mode}'; expected one of {list(MODES)}.")
        started = time.perf_counter()
        k = k or self.settings.top_k
        full = mode == "default"
        parsed = parse_query(query, brands=self.brands, categories=self.categories, schema=self.schema) if full else ParsedQuery(
            original=query, text=query
        )
        excluded: set[str] = set()  # analysed excluded words
        if parsed.excluded:
            if not self._negation_is_literal(parsed):  # a word also asked for is not excluded ("cases without tools")
                excluded = set(analyze(" ".join(parsed.excluded))) - set(analyze(parsed.text))
            parsed = parsed.model_copy(update={"text": parsed.unnegated_text})
        excluded_words = [w for w in parsed.excluded if set(analyze(w)) & excluded]
        corrections = self._corrections(parsed.text) if full else {}
        text = " ".join(corrections.get(w, w) for w in words(parsed.text)) if corrections else parsed.text
        hard = filters or Filters()
        soft = parsed.filters
        # Constraints drop candidates, so fetch more of them to still fill k.
        constrained = not hard.is_empty() or any(
            (soft.price_min is not None, soft.price_max is not None, soft.sizes, soft.in_stock, soft.attributes)
        )
        n = self.settings.candidates * (4 if constrained else 1)

        candidates: dict[str, Candidate] = {}
        lexical = self.store.lexical
        query_terms = analyze(text)
        bm25_all = lexical.scores(query_terms) if lexical and lexical.ids else np.zeros(0, np.float32)
        if mode in ("default", "hybrid", "bm25") and bm25_all.size:
            top = np.argsort(-bm25_all)[:n]
            for rank, row in enumerate(r for r in top if bm25_all[r] > 0):
                pid = lexical.ids[row]
                candidates[pid] = Candidate(pid, bm25=float(bm25_all[row]), bm25_rank=rank + 1)
        if mode in ("default", "hybrid", "dense") and text.strip():
            qvec = self.store.embedder.encode_query(parsed.text)
            for rank, (pid, sim) in enumerate(self.store.vectors.query(qvec, n)):
                c = candidates.setdefault(pid, Candidate(pid))
                c.dense, c.dense_rank = sim, rank + 1
                if c.bm25 == 0.0 and lexical and pid in lexical.row and bm25_all.size:
                    c.bm25 = float(bm25_all[lexical.row[pid]])
            if mode == "default":  # vectors for feedback; lexical-only candidates also need their similarity
                for pid, vec in self.store.product_vectors(list(candidates)).items():
                    c = candidates[pid]
                    c.vector = vec
                    if c.dense_rank is None:
                        c.dense = float(np.dot(vec, qvec))
        if full and not text.strip():  # only filters ("under $50"): browse everything that passes
            candidates = {pid: Candidate(pid) for pid in self.store.products}

        if excluded and lexical and lexical.ids:  # rank features count only the wanted words
            query_terms = [t for t in query_terms if t not in excluded]
            wanted = lexical.scores(query_terms)
            for c in candidates.values():
                c.bm25 = float(wanted[lexical.row[c.product_id]]) if c.product_id in lexical.row else 0.0
        if soft.attributes:
            soft = soft.model_copy(update={"attributes": self._applicable(soft, list(candidates.values()))})
        hits = self._rank(list(candidates.values()), mode, query_terms, soft, hard, k, excluded, excluded_words)
        latency = (time.perf_counter() - started) * 1000
        # Shoppers' words may hold personal data: the query text is logged at DEBUG only.
        logger.info("search mode=%s hits=%d %.1f ms", mode, len(hits), latency)
        logger.debug("search query %r", query)
        return SearchResult(query=query, hits=hits, filters=soft.merged(hard), text=text, corrections=corrections,
                            latency_ms=latency, excluded=excluded_words)

    def _subject(self, soft: Filters, best: str | None) -> tuple[str, ...] | None:
        """The product type a search is about: a category the query names, else the best candidate's leaf."""
        for product in self.store.products.values():
            for name in soft.categories:
                if name in product.category:
                    return (name,)
        if best is None or best not in self.store.products:
            return None
        return tuple(self.store.products[best].category[-1:])

    def _of_type(self, subject: tuple[str, ...] | None) -> list[Product]:
        if subject is None:
            return list(self.store.products.values())
        return [p for p in self.store.products.values() if subject[0] in p.category]

    def _applicable(self, soft: Filters, candidates: list[Candidate]) -> list:
        """The attribute conditions that fit what is searched: an attribute stated by at least a third of the
        products of that type ("for 3 people" applies to a tent search, not to a stove search)."""
        rrf(candidates)
        best = min(candidates, key=lambda c: (-c.rrf, c.product_id)).product_id if candidates else None
        products = self._of_type(self._subject(soft, best))
        return [c for c in soft.attributes if sum(c.attribute in p.attributes for p in products) * 3 >= len(products)]

    def _corrections(self, text: str) -> dict[str, str]:
        lexical = self.store.lexical
        if lexical is None:
            return {}
        fixes = {}
        for word in words(text):
            fixed = lexical.correct(word)
            if fixed:
                fixes[word] = fixed
        return fixes

    def _negation_is_literal(self, parsed: ParsedQuery) -> bool:
        """Whether a product title among the best lexical matches of the whole query has the negation word right
        after the same word as the query ("*bite not* cat collar" for "bite not collar"): then it is a name or a
        slogan, not a negation. A title going on with the excluded word ("knife set *without block*") states the
        absence the shopper asked for, so it is no sign of a name."""
        lexical = self.store.lexical
        negation = words(parsed.negation)
        before = words(parsed.unnegated_text[: parsed.unnegated_text.find(parsed.negation)])[-1:]
        if lexical is None or not lexical.ids or not before or len(negation) < 2:
            return False
        phrase, excluded = [*before, negation[0]], stem(negation[1])
        scores = lexical.scores(analyze(parsed.unnegated_text))
        for row in np.argsort(-scores)[:50]:
            if scores[row] <= 0:
                break
            product = self.store.products.get(lexical.ids[row])
            title = words(product.title) if product else []
            if any(title[i : i + 2] == phrase and stem(" ".join(title[i + 2 : i + 3])) != excluded
                   for i in range(len(title) - 1)):
                return True
        return False

    def _excluded_share(self, pid: str, excluded: set[str]) -> float:
        """Share of the excluded words the title names, 0 when the title says it lacks them ("no block",
        "gelatin-free", "without stem")."""
        if not excluded:
            return 0.0
        named = excluded & set(self._title_tokens(pid))
        if not named:
            return 0.0
        raw = words(self.store.products[pid].title)
        for j, word in enumerate(raw):
            if stem(word) in named and (
                (j > 0 and raw[j - 1] in _ABSENCE) or (j + 1 < len(raw) and raw[j + 1] in ("free", "less"))
            ):
                return 0.0
        return len(named) / len(excluded)

    def _title_tokens(self, pid: str) -> list[str]:
        """Analysed title tokens in order, cached (titles are short; whole texts are read from the BM25 matrix)."""
        tokens = self._titles.get(pid)
        if tokens is None:
            tokens = self._titles[pid] = analyze(self.store.products[pid].title)
        return tokens

    def _text_hits(self, candidates: list[Candidate], query_terms: set[str]) -> list[set[str]]:
        """For each candidate, the query terms its whole indexed text contains (from the lexical index)."""
        lexical = self.store.lexical
        if lexical is None or not lexical.ids or not query_terms:
            return [set() for _ in candidates]
        rows = np.array([lexical.row.get(c.product_id, -1) for c in candidates], dtype=np.int64)
        present = {t: np.isin(rows, lexical.rows_containing(t)) for t in query_terms}
        return [{t for t, mask in present.items() if mask[i]} for i in range(len(candidates))]

    def _rank(
        self, candidates: list[Candidate], mode: str, query_tokens: list[str], soft: Filters, hard: Filters, k: int,
        excluded: set[str], excluded_words: list[str],
    ) -> list[Hit]:
        rrf(candidates)
        query_terms = set(query_tokens)
        kept: list[tuple[Candidate, list[str], set[str]]] = []
        best_bm25 = max((c.bm25 for c in candidates), default=0.0)
        text_hits = self._text_hits(candidates, query_terms) if mode == "default" else [set()] * len(candidates)
        prepared = QueryTerms.of(query_tokens)
        hard_filters = not hard.is_empty()
        for c, in_text in zip(candidates, text_hits, strict=True):
            product = self.store.products.get(c.product_id)
            if product is None:
                continue
            satisfied: list[str] = []
            preferred = 0
            if mode == "default":
                ok, satisfied, preferred = soft.check(product, strict=False)
                if ok and hard_filters:
                    ok, strict_satisfied, strict_preferred = hard.check(product, strict=True)
                    satisfied += [s for s in strict_satisfied if s not in satisfied]
                    preferred += strict_preferred
                if not ok:
                    continue
            if mode == "default":
                title_tokens = self._title_tokens(c.product_id)
                c.features = self.reranker.featurize(
                    c, prepared, title_tokens, in_text, best_bm25, preferred, self._excluded_share(c.product_id, excluded)
                )
                c.score = self.reranker.score(c.features) if self.settings.rerank else c.rrf
                if not query_terms and c.dense_rank is None and c.bm25_rank is None:  # filter-only browse
                    c.score = (product.rating or 0) / 5 + math.log1p(product.rating_count or 0) / 100
            else:
                c.score = {"bm25": c.bm25, "dense": c.dense, "hybrid": c.rrf}[mode]
            kept.append((c, satisfied, in_text))
        if mode == "default" and self.settings.rerank and query_terms:
            self.reranker.add_feedback([c for c, _, _ in kept])
        kept.sort(key=lambda item: (-item[0].score, item[0].product_id))
        top = kept[:k]
        if mode == "default" and soft.sort is not None and kept:
            top = self._superlative(kept, soft, k, query_terms)
        hits = []
        for c, satisfied, in_text in top:
            product = self.store.products[c.product_id]
            title_terms = set(self._title_tokens(c.product_id))
            why = []
            in_title = sorted(query_terms & title_terms)
            elsewhere = sorted(in_text - title_terms)
            if in_title:
                why.append(f"title matches: {', '.join(in_title)}")
            if elsewhere:
                why.append(f"description matches: {', '.join(elsewhere)}")
            if c.dense_rank is not None:
                why.append(f"semantic match {c.dense:.2f} (rank {c.dense_rank})")
            why += satisfied
            if excluded and c.features.get("excluded") == 0.0:
                why.append(f"title does not name {' '.join(excluded_words)}")
            scores = {"bm25": round(c.bm25, 4), "dense": round(c.dense, 4), "rrf": round(c.rrf, 5)}
            scores.update({f"f_{name}": round(v, 4) for name, v in c.features.items()})
            hits.append(Hit(product=product, score=round(c.score, 5), scores=scores, why=why,
                            reason=self.schema.reason(product, soft.attributes, soft.sort) if mode == "default" else ""))
        return hits

    def _superlative(self, kept: list, soft: Filters, k: int, query_terms: set[str]) -> list:
        """"The lightest tent": among the 50 best hits of the product type searched (`_subject`), best first on
        the dimension; products that do not state it keep their place after."""
        subject = self._subject(soft, kept[0][0].product_id)
        pool = [item for item in kept[:50]
                if subject is None or subject[0] in self.store.products[item[0].product_id].category]
        named = [item for item in pool if query_terms <= set(self._title_tokens(item[0].product_id))]
        if query_terms and len(named) >= 2:  # "the brightest headlamp": headlamps, not the lanterns beside them
            pool = named
        products = [self.store.products[c.product_id] for c, _, _ in pool]
        if self.schema.dimension_attribute(soft.sort.dimension, products) is None:  # not stated for these products
            return kept[:k]
        ordered = self.schema.order(products, soft.sort)
        rank = {p.id: i for i, p in enumerate(ordered)}
        return sorted(pool, key=lambda item: rank[item[0].product_id])[:k]


def open_searcher(settings: RetrievalSettings, home: Path, embedder=None, *, name: str = "products") -> Searcher:
    """Open the searcher over an indexed catalog.

    Args:
        settings: the retrieval settings section.
        home: the data home (Chroma under `home/chroma` unless `chroma.path`/`chroma.url` say otherwise,
            the lexical index under `home/lexical`).
        embedder: the query embedder; must be the one the catalog was indexed with. The CLI builds the real
            one from the resolved model folder; tests pass a tiny or hashing embedder. None = load
            `settings.embedding_model` as a local folder.
        name: collection name (one per catalog; the shop's catalog is "products").

    Raises:
        IndexNotFoundError: nothing is indexed in that collection yet.
    """
    store = open_store(settings, home, embedder, name=name)
    store.load()
    if not store.products:
        raise IndexNotFoundError(
            f"No products are indexed in collection '{store.vectors.name}'; run `shopbot index` (or "
            f"`shopbot index --catalog PATH`) first."
        )
    return Searcher(store, settings)


def open_store(settings: RetrievalSettings, home: Path, embedder=None, *, name: str = "products") -> ProductStore:
    """The `ProductStore` for a catalog collection (what `shopbot index` writes into)."""
    if embedder is None:
        from retrieval.embed import Embedder

        if not Path(settings.embedding_model).expanduser().is_dir():
            raise RetrievalError(
                f"retrieval.embedding_model '{settings.embedding_model}' is not a local folder; resolve it first "
                "(the shopbot CLI does this) and pass `embedder=Embedder(path)`."
            )
        embedder = Embedder.from_settings(Path(settings.embedding_model).expanduser(), settings)
    chroma_path = Path(settings.chroma.path).expanduser() if settings.chroma.path else Path(home) / "chroma"
    return ProductStore(settings.chroma, chroma_path, Path(home) / "lexical", embedder, name=name)
