"""Personalised recommendations served from the trained model (`retrieval.recs.model`) and live events.

`Recommender.record` logs an event and updates the shopper's real-time profile; `Recommender.recommend`
scores every item with the seven sources, blends them with the learned ranker, applies business rules
(stock, bought non-repeatables, category/price from the chat), MMR diversity, and gives each item one true
reason naming what caused it. `open_recommender` / `train_recommender` wire it to the data home.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from retrieval.catalog import Product
from retrieval.config import RecsSettings
from retrieval.errors import RetrievalError
from retrieval.recs.events import Event, EventStore
from retrieval.recs.model import (
    DAY,
    FEATURES,
    SOURCES,
    History,
    RecsModel,
    Scorer,
    empty_model,
    history_from_events,
    train_model,
)
from retrieval.recs.profiles import Profile, ProfileStore

logger = logging.getLogger(__name__)

NEAR_DUPLICATE_COSINE = 0.9  # an item this close to a `goes_with` product is another one of it, not a complement
COMPLEMENT_WEIGHT = 2.0  # how much "bought with the anchor" counts next to the shopper's own blend (scaled to 1)
REBUY_BLOCK_DAYS = 1.0  # even a repeatable item is not offered again the day it was bought
REPEATABLE_RATE = 0.15  # share of buyers who bought it again, above which an item counts as repeatable
HISTORY_LIMIT = 500  # latest events read per request
_VERBS = {"view": "viewed", "click": "looked at", "add_to_cart": "added", "purchase": "bought", "rate": "rated"}


class TextEncoder(Protocol):
    """What recommendations need from an embedder (`retrieval.embed.Embedder` fits)."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class RecsContext(BaseModel):
    """What the conversation knows right now; every field optional."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, description="What the shopper asked for; shapes cold start and content.")
    category: str | None = Field(None, description="Only items whose category path contains this (case-insensitive).")
    min_price: float | None = None
    max_price: float | None = None
    exclude_purchased: bool = Field(False, description="Only items the shopper has never bought.")
    exclude: list[str] = Field(default_factory=list, description="Product ids not to show (e.g. already in the chat).")
    goes_with: list[str] = Field(
        default_factory=list,
        description="Products the recommendations should complement (the cart, the product discussed): what is bought "
        "with or after them leads; near-duplicates of them (same leaf category, or nearly the same embedding) are left out.",
    )
    now: float | None = Field(None, description="Unix time to recommend at (replays and evaluation); default now.")


class Recommendation(BaseModel):
    """One recommended product with the reason the assistant may say out loud."""

    product_id: str
    score: float
    reason: str
    sources: list[str]


def mmr(scores: np.ndarray, cand: np.ndarray, vectors: np.ndarray | None, k: int, diversity: float) -> list[int]:
    """Maximal marginal relevance over `cand` (sorted best first): trade score for novelty against picks."""
    if vectors is None or diversity <= 0 or len(cand) <= 1:
        return cand[:k].tolist()
    pool = cand[: max(3 * k, 30)]
    rel = scores[pool].astype(np.float64)
    rel = (rel - rel.min()) / max(rel.max() - rel.min(), 1e-9)
    sims = vectors[pool] @ vectors[pool].T  # (p, p)
    chosen: list[int] = []
    best_sim = np.full(len(pool), -np.inf)
    left = np.ones(len(pool), dtype=bool)
    for _ in range(min(k, len(pool))):
        penalty = np.where(np.isfinite(best_sim), best_sim, 0.0)
        value = (1 - diversity) * rel - diversity * penalty
        value[~left] = -np.inf
        j = int(np.argmax(value))
        chosen.append(j)
        left[j] = False
        best_sim = np.maximum(best_sim, sims[j])
    return pool[chosen].tolist()


# ---------------------------------------------------------------- the service


class Recommender:
    """Recommendations for shoppers of one catalog, updated by every recorded event.

    Args:
        products: the catalog (its order is the item index).
        vectors: (len(products), dim) unit embeddings of the products, same order.
        events: where behaviour is logged. profiles: the real-time profile store (same `dim`).
        model: the trained `RecsModel` (any item order; re-indexed here), or None for content + trending only.
        embedder: encodes search queries and chat context for the content source; None = queries ignored.
    """

    def __init__(
        self,
        products: Sequence[Product],
        vectors: np.ndarray,
        events: EventStore,
        profiles: ProfileStore,
        settings: RecsSettings,
        model: RecsModel | None = None,
        embedder: TextEncoder | None = None,
    ) -> None:
        if len(products) != len(vectors):
            raise RetrievalError(f"{len(products)} products but {len(vectors)} vectors; embed every product once.")
        self.settings = settings
        self.events = events
        self.profiles = profiles
        self.embedder = embedder
        self.products = list(products)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.index = {p.id: i for i, p in enumerate(self.products)}
        ids = [p.id for p in self.products]
        self.model = (model or empty_model(ids, settings)).aligned(ids)
        self.scorer = Scorer(self.model, self.vectors, settings)
        self._catalog_arrays()

    def _catalog_arrays(self) -> None:
        """Per-item arrays the business rules filter on, so a request does no per-product Python."""
        self._in_stock = np.array([p.in_stock is not False for p in self.products])
        self._prices = np.array([np.nan if p.price is None else p.price for p in self.products], dtype=np.float64)
        self._category_paths = [" > ".join(p.category).lower() for p in self.products]

    def add_products(self, products: Sequence[Product], vectors: np.ndarray) -> None:
        """Add (or replace) products; they are recommendable at once through content similarity."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for p, v in zip(products, vectors, strict=True):
            if p.id in self.index:
                self.products[self.index[p.id]] = p
                self.vectors[self.index[p.id]] = v
            else:
                self.index[p.id] = len(self.products)
                self.products.append(p)
                self.vectors = np.vstack([self.vectors, v[None, :]])
        self.model = self.model.aligned([p.id for p in self.products])
        self.scorer = Scorer(self.model, self.vectors, self.settings)
        self._catalog_arrays()

    def record(self, event: Event) -> None:
        """Log an event and fold it into the shopper's profile; the next `recommend` reflects it.

        The event log is the truth: the event is committed first, and a profile that missed it (a crash in
        between) is recomputed from the log by `rebuild_profiles` (`shopbot recs train` does that).
        """
        self.events.append(event)
        vec = None
        if event.type == "search" and event.context and self.embedder is not None:
            vec = np.asarray(self.embedder.encode([event.context])[0], dtype=np.float32)
        elif event.product_id in self.index:
            vec = self.vectors[self.index[event.product_id]]
        self.profiles.update(
            event.user_id, event.type, event.ts, vec, product_id=event.product_id, session_id=event.session_id,
            value=event.value, query=event.context if event.type == "search" else None,
        )

    def rebuild_profiles(self) -> int:
        """Recompute every profile from the event log (after a catalog or embedder change). Returns users."""
        self.profiles.delete_all()
        by_user: dict[str, Profile] = {}
        for e in self.events.rows():
            p = by_user.setdefault(e.user_id, Profile.empty(e.user_id, self.vectors.shape[1]))
            i = self.index.get(e.product_id) if e.product_id else None
            p.update(
                e.type, e.ts, None if i is None else self.vectors[i], self.settings, product_id=e.product_id,
                session_id=e.session_id, value=e.value,
            )
        for p in by_user.values():
            self.profiles.save(p)
        return len(by_user)

    def _refold(self, user_id: str) -> Profile:
        """Recompute one shopper's profile from the event log (what `rebuild_profiles` does for everyone)."""
        profile = Profile.empty(user_id, self.vectors.shape[1])
        for e in self.events.events(user_id=user_id):
            i = self.index.get(e.product_id) if e.product_id else None
            profile.update(
                e.type, e.ts, None if i is None else self.vectors[i], self.settings, product_id=e.product_id,
                session_id=e.session_id, value=e.value,
            )
        self.profiles.save(profile)
        return profile

    def history(self, user_id: str, now: float, query: str | None = None) -> History:
        """The shopper's live history and profile vector (context query folded into the profile)."""
        events = self.events.recent(user_id, HISTORY_LIMIT)
        profile = self.profiles.get(user_id)
        stored = self.events.count(user_id)
        if stored and (profile is None or profile.events != stored):
            profile = self._refold(user_id)  # another worker recorded events of this shopper: the shared log decides
        vec = profile.vector(now, self.settings) if profile is not None else None
        if query and self.embedder is not None:
            q = np.asarray(self.embedder.encode([query])[0], dtype=np.float32)
            vec = q if vec is None else (vec + q) / max(float(np.linalg.norm(vec + q)), 1e-9)
        h = history_from_events(user_id, events, self.index, self.settings, now, vec)
        if query:
            h.queries.append(query)
        return h

    def recommend(
        self, user_id: str | None, k: int = 10, context: RecsContext | dict | None = None
    ) -> list[Recommendation]:
        """Top `k` products for the shopper (None or unknown = cold start), each with a reason."""
        ctx = context if isinstance(context, RecsContext) else RecsContext.model_validate(context or {})
        now = ctx.now if ctx.now is not None else time.time()
        if user_id:
            h = self.history(user_id, now, ctx.query)
        else:
            h = history_from_events("", [], self.index, self.settings, now)
            if ctx.query and self.embedder is not None:
                h.profile = np.asarray(self.embedder.encode([ctx.query])[0], dtype=np.float32)
                h.queries.append(ctx.query)
        return self.rank(h, k, ctx, now)

    def rank(self, h: History, k: int, ctx: RecsContext, now: float) -> list[Recommendation]:
        """Score, filter, diversify and explain; shared by `recommend` and the offline evaluation."""
        feats = self.scorer.features(h)
        weights = self.model.ranker_new if ctx.exclude_purchased else self.model.ranker_all
        scores = self.scorer.blend(feats, weights)
        if len(h.items) == 0 and h.profile is not None:
            # Cold start with a query: trending among the items that match it (half the best match or better).
            rel = feats[:, FEATURES.index("content")]
            trend = 0.5 * (feats[:, FEATURES.index("trending")] + feats[:, FEATURES.index("popular")])
            scores = np.where(rel >= 0.5 * rel.max(), 0.6 * rel / max(float(rel.max()), 1e-9) + 0.4 * trend, -1.0 + rel)
            weights = {"content": 0.6, "trending": 0.4, "popular": 0.4}
        allowed = self._allowed(h, ctx, now)
        anchors = [self.index[pid] for pid in ctx.goes_with if pid in self.index]
        complement = None
        if anchors:
            complement, near = self._complements(anchors)
            allowed &= ~near
            spread = float(scores[allowed].max() - scores[allowed].min()) if allowed.any() else 1.0
            scores = scores + COMPLEMENT_WEIGHT * max(spread, 1e-6) * complement
        order = np.flatnonzero(allowed)
        order = order[np.argsort(-scores[order], kind="stable")]
        picks = mmr(scores, order, self.vectors, k, self.settings.diversity)
        # co-occurrence of every history item with every pick, sliced once: (m, len(picks))
        co = self.model.cooc[h.items][:, picks].toarray() if len(h.items) and picks else None
        out = [self._explain(h, feats, weights, scores, j, None if co is None else co[:, n]) for n, j in enumerate(picks)]
        if complement is not None:
            for r, j in zip(out, picks, strict=True):
                reason = self._complement_reason(anchors, j, complement[j])
                if reason:
                    r.reason, r.sources = reason, ["goes_with", *r.sources]
        return out

    def _complements(self, anchors: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(n,) in [0, 1]: bought with or after the anchors (co-purchase, basket sequence, EASE), or, where the log
        knows nothing of them, the same department in another leaf category; and the (n,) near-duplicate mask."""
        m = self.model
        together = np.asarray(m.cooc[anchors].sum(axis=0) + m.seq[anchors].sum(axis=0)
                               + np.maximum(m.ease[anchors].toarray(), 0).sum(axis=0)).ravel()
        score = together / max(float(together.max()), 1e-9)
        # a leaf of a one-level path is a whole department ("Camping"), which complements share: not a duplicate
        leaves = {self.products[a].category[-1] for a in anchors if len(self.products[a].category) >= 2}
        departments = {self.products[a].category[0] for a in anchors if self.products[a].category}
        near = np.zeros(len(self.products), dtype=bool)
        near[anchors] = True
        if self.vectors is not None:
            near |= (self.vectors @ self.vectors[anchors].T).max(axis=1) >= NEAR_DUPLICATE_COSINE
        same_leaf = np.array([len(p.category) >= 2 and p.category[-1] in leaves for p in self.products])
        near |= same_leaf
        if together.max() <= 0 and departments:  # nothing bought with them yet: their department, other kinds
            score = np.array([0.5 if p.category and p.category[0] in departments else 0.0 for p in self.products])
        return np.where(near, 0.0, score), near

    def _complement_reason(self, anchors: list[int], j: int, value: float) -> str | None:
        if value <= 0:
            return None
        m = self.model
        links = [(float(m.cooc[a, j] + m.seq[a, j] + max(m.ease[a, j], 0.0)), a) for a in anchors]
        strength, a = max(links)
        title = self.products[a].title
        return f"goes with the {title}: often bought together" if strength > 0 else f"goes with the {title}"

    def _allowed(self, h: History, ctx: RecsContext, now: float) -> np.ndarray:
        ok = self._in_stock.copy()
        if ctx.category:
            want = ctx.category.lower()
            ok &= np.array([want in path for path in self._category_paths])
        if ctx.max_price is not None:
            ok &= ~(self._prices > ctx.max_price)  # unknown price (nan) passes
        if ctx.min_price is not None:
            ok &= ~(self._prices < ctx.min_price)
        for pid in ctx.exclude:
            if pid in self.index:
                ok[self.index[pid]] = False
        bought = h.purchases > 0
        if ctx.exclude_purchased:
            ok[h.items[bought]] = False
        else:  # bought, and not something people buy again (a tent); consumables come back after a few days
            items = h.items[bought]
            repeatable = self.model.repeat_rate[items] >= REPEATABLE_RATE
            just = now - h.last_bought[bought] < REBUY_BLOCK_DAYS * DAY
            ok[items[~repeatable | just]] = False
        return ok

    def _explain(
        self, h: History, feats: np.ndarray, weights: dict, scores: np.ndarray, j: int, co: np.ndarray | None
    ) -> Recommendation:
        contrib = {s: float(feats[j, n] * weights.get(s, 0.0)) for n, s in enumerate(SOURCES)}
        contrib["trending"] += float(feats[j, FEATURES.index("popular")] * weights.get("popular", 0.0))
        positive = {s: c for s, c in contrib.items() if c > 0}
        sources = sorted(positive, key=lambda s: -positive[s])
        reason = None
        for source in sources or ["trending"]:
            reason = self._reason(source, h, j, co)
            if reason:
                break
        return Recommendation(
            product_id=self.products[j].id, score=float(scores[j]), reason=reason or "popular with shoppers",
            sources=sources or ["trending"],
        )

    def _reason(self, source: str, h: History, j: int, co: np.ndarray | None) -> str | None:
        """A sentence that is true of this shopper and item, or None if this source cannot explain it."""
        if source == "repurchase":
            pos = np.flatnonzero(h.items == j)
            if len(pos) and h.purchases[pos[0]] > 0:
                n = int(h.purchases[pos[0]])
                return "you buy this regularly" if n >= 3 else "you bought this before"
            return None
        if source == "cooc" and co is not None:
            row = co * np.log1p(h.strength)
            if row.max() <= 0:
                return None
            a = int(np.argmax(row))
            return f"often bought with the {self.products[h.items[a]].title}, which you {_VERBS[h.last_kind[a]]}"
        if source in ("ease", "seq") and len(h.items):
            matrix = self.model.ease if source == "ease" else self.model.seq
            row = matrix[h.items][:, [j]].toarray().ravel() * (h.strength > 0)
            if row.max() <= 0:
                return None
            a = int(np.argmax(row))
            title, verb = self.products[h.items[a]].title, _VERBS[h.last_kind[a]]
            if source == "ease":
                return f"shoppers who bought the {title}, which you {verb}, also buy this"
            return f"often bought with or right after the {title}, which you {verb}"
        if source in ("als", "content") and len(h.items):
            if source == "als":
                sim = self.model.item_factors[h.items] @ self.model.item_factors[j]
            else:
                sim = self.vectors[h.items] @ self.vectors[j]
            sim = np.where(h.strength > 0, sim, -np.inf)
            sim[h.items == j] = -np.inf
            if not np.isfinite(sim).any() or sim.max() <= 0:
                return None
            a = int(np.argmax(sim))
            return f"because you {_VERBS[h.last_kind[a]]} the {self.products[h.items[a]].title}"
        if source == "content" and h.queries:  # a whole sentence quoted back reads like a program
            query = h.queries[-1]
            return f"matches your search for '{query}'" if len(query.split()) <= 4 else "matches what you searched for"
        if source == "trending":
            p = self.products[j]
            where = f" in {p.category[0]}" if p.category else ""
            if self.model.week[j] > 0:
                return f"popular{where} this week"
            if self.model.popularity[j] > 0:
                return f"a bestseller{where}"
            return f"more to explore{where}"
        return None


def item_text(p: Product) -> str:
    """What an item's embedding is computed from: title, category path, start of the description."""
    parts = [p.title, " > ".join(p.category), p.description[:300]]
    return ". ".join(x for x in parts if x)


def embed_products(products: Sequence[Product], embedder: TextEncoder, cache_dir: Path | None) -> np.ndarray:
    """(n, dim) unit vectors of the products in order; only products new or changed since the cache are embedded.

    The cache (`<cache_dir>/item-vectors-<embedder name>.npz`) maps product id + text hash to a vector.
    """
    texts = [item_text(p) for p in products]
    keys = [f"{p.id}\t{hashlib.sha1(t.encode()).hexdigest()[:12]}" for p, t in zip(products, texts, strict=True)]
    cache = cache_dir / f"item-vectors-{embedder.name}.npz" if cache_dir else None
    known: dict[str, np.ndarray] = {}
    if cache and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        known = dict(zip(z["keys"].tolist(), z["vectors"], strict=True))
    todo = [i for i, key in enumerate(keys) if key not in known]
    if todo:
        logger.info("embedding %d of %d products with %s", len(todo), len(products), embedder.name)
        fresh = np.asarray(embedder.encode([texts[i] for i in todo]), dtype=np.float32)
        known.update({keys[i]: v for i, v in zip(todo, fresh, strict=True)})
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
            tmp.replace(cache)
    if not products:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([known[key] for key in keys]).astype(np.float32)


def open_recommender(
    settings: RecsSettings, home: Path, products: Sequence[Product], embedder: TextEncoder
) -> Recommender:
    """The recommender of a shop: events in `<home>/events.db`, profiles in `<home>/profiles.db`, the trained
    model and cached item vectors in `<home>/recs/`. Without a trained model it runs on content + history.
    """
    if not products:
        raise RetrievalError("The catalog is empty; load a catalog with products before asking for recommendations.")
    folder = home / "recs"
    vectors = embed_products(products, embedder, folder)
    model = RecsModel.load(folder) if (folder / "model.npz").is_file() else None
    if model is None:
        logger.info("no trained recommendation model in %s; run `shopbot recs train` for collaborative signals", folder)
    return Recommender(
        products, vectors, EventStore(settings.events_url or home / "events.db"),
        ProfileStore(home / "profiles.db", vectors.shape[1], settings), settings, model=model, embedder=embedder,
    )


def train_recommender(
    settings: RecsSettings, home: Path, products: Sequence[Product], embedder: TextEncoder
) -> RecsModel:
    """`shopbot recs train`: fit on `<home>/events.db`, save to `<home>/recs/`, rebuild every profile."""
    folder = home / "recs"
    vectors = embed_products(products, embedder, folder)
    with EventStore(settings.events_url or home / "events.db") as events:
        rows = events.rows()
    model = train_model(rows, [p.id for p in products], settings, vectors=vectors, now=time.time())
    model.save(folder)
    rec = Recommender(
        products, vectors, EventStore(settings.events_url or home / "events.db"),
        ProfileStore(home / "profiles.db", vectors.shape[1], settings),
        settings, model=model, embedder=embedder,
    )
    users = rec.rebuild_profiles()
    rec.events.close()
    rec.profiles.close()
    logger.info("recs model saved in %s; %d profiles rebuilt", folder, users)
    return model
