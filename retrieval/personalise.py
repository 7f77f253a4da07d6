"""Personalised search: the hybrid results reranked with what the shopper did, the query staying in charge.

`personalised_search(searcher, recommender, query, user_id=...)` runs today's search over a wider pool
(`POOL_FACTOR` x k) and, when the shopper is known (events or a profile under that id: a customer, or an
anonymous session whose events were recorded under its id), adds a bounded personal boost:

    final = plain + BOOST_SHARE * band * (affinity - owned)          for hits inside the relevance band

* the **relevance band**: hits scoring at least `RELEVANT_SHARE` of the best plain score. Only they can move,
  so a profile reorders what the query already found and never pulls in what it did not (a stove lover
  searching "tent" gets tents); hits below the band keep their plain score and order;
* `band` = best plain score - the band's floor, so the boost is at most `BOOST_SHARE` of the band's width:
  a close call among relevant hits can flip, a clearly better match cannot be overtaken by a weak one;
* `affinity` in [0, 1], a weighted mix (`AFFINITY_WEIGHTS`, renormalised over the signals that tell the
  relevant hits apart) of signals each min-max scaled over the relevant hits (the profile only has to say
  which of these results the shopper prefers):
  the recommender's personal sources, each on its own - `repurchase`, `cooc` (bought with the shopper's items),
  `als`, `ease`, `seq` (what follows their baskets), `purchases` (how often they bought it), `bought` (they did);
  `session` - cosine of the item to the live profile vector (long-term interest + the current session);
  `category`, `brand` - the share of the shopper's interest (decayed event weights) in the item's leaf
  category / brand; `price` - closeness (in log price) to the shopper's typical price;
  `size_colour` - the item comes in a size or colour the shopper bought;
* `owned` (`OWNED_PENALTY`): a non-consumable the shopper bought (repeat rate under the recommender's
  `REPEATABLE_RATE`, and bought by them only once) goes down; what they rebuy goes up through `history`.

Anonymous shoppers (no id, or an id with no events and no profile) get `searcher.search(query, k)` unchanged.
Each hit personalisation moved up or down gets a line in `why` saying so and naming the strongest signal.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np

from retrieval.catalog import Product
from retrieval.query import Filters
from retrieval.recs.model import FEATURES, History
from retrieval.recs.recommend import REPEATABLE_RATE, Recommender
from retrieval.search import Hit, Searcher, SearchResult

logger = logging.getLogger(__name__)

POOL_FACTOR = 3  # plain hits considered per hit returned
MIN_POOL = 30
RELEVANT_SHARE = 0.8  # a hit is in the relevance band when its plain score is >= this share of the best one
BOOST_SHARE = 1.0  # the largest boost, as a share of the band's width (best - floor)
# Affinity taken off a non-consumable the shopper already bought: the fit below says 0.08, but wholesale buyers
# rebuy what a household would not (a second tent), so a consumer shop's prior is kept (costs 0.002 MRR there).
OWNED_PENALTY = 0.25
# Weights fitted on the tuning split only (UCI Online Retail, profiles at 2011-09-01, purchases to 2011-11-01; a
# listwise softmax over the relevance band, the check split 2011-11-01 not used), rounded; category, brand and
# size/colour carry no information there (the retail catalog has none) and keep small prior weights.
AFFINITY_WEIGHTS = {"repurchase": 0.18, "cooc": 0.07, "als": 0.13, "ease": 0.11, "seq": 0.07, "purchases": 0.14,
                    "bought": 0.2, "session": 0.08, "price": 0.02, "category": 0.1, "brand": 0.1, "size_colour": 0.05}
PERSONAL_SOURCES = {"repurchase": "repurchase", "cooc": "cooc", "als": "als", "ease": "ease", "seq": "seq",
                    "purchases": "log_purchases", "bought": "bought"}  # signal -> the recommender's feature
_OWN_PURCHASE = ("repurchase", "purchases", "bought")  # signals of the shopper's own purchases of the item
PRICE_WIDTH = math.log(2.0)  # a price twice (or half) the shopper's typical one halves the price affinity
_SIGNAL_WORDS = {
    "repurchase": "you buy it again", "cooc": "bought with what you buy", "als": "shoppers like you buy it",
    "ease": "shoppers like you buy it", "seq": "often follows your purchases", "purchases": "you bought it before",
    "bought": "you bought it before", "session": "what you looked at recently", "category": "categories you shop",
    "brand": "brands you buy", "price": "your usual price range", "size_colour": "sizes and colours you buy",
}


def personalised_search(
    searcher: Searcher,
    recommender: Recommender | None,
    query: str,
    k: int | None = None,
    filters: Filters | None = None,
    *,
    user_id: str | None = None,
    now: float | None = None,
) -> SearchResult:
    """Search, reranked for `user_id` when the recommender knows them (see module docstring).

    Args:
        searcher: the catalog searcher (today's ranking).
        recommender: the shop's recommender (events, profiles, the trained model); None = plain search.
        query, k, filters: as `Searcher.search`.
        user_id: the customer (from a verified token) or the id a session's events were recorded under.
        now: Unix time the profile is read at (evaluation replays); default now.
    """
    k = k or searcher.settings.top_k
    if recommender is None or not user_id:
        return searcher.search(query, k=k, filters=filters)
    now = time.time() if now is None else now
    h = recommender.history(user_id, now)
    if len(h.items) == 0 and h.profile is None:
        return searcher.search(query, k=k, filters=filters)
    started = time.perf_counter()
    result = searcher.search(query, k=max(POOL_FACTOR * k, MIN_POOL), filters=filters)
    hits = rerank(result.hits, recommender, h, now)[:k]
    latency = (time.perf_counter() - started) * 1000  # the wider search plus the rerank
    logger.info("personalised search: %d hits, %d moved, %.1f ms", len(hits), sum(_moved(x) for x in hits), latency)
    return replace(result, hits=hits, latency_ms=latency)


def _moved(hit: Hit) -> bool:
    return "personal" in hit.scores and hit.scores["personal"] != 0.0


def rerank(hits: list[Hit], recommender: Recommender, h: History, now: float) -> list[Hit]:
    """The plain `hits` (best first) reordered with the shopper's `History`; returns new `Hit`s, best first."""
    if not hits:
        return []
    plain = np.array([x.score for x in hits], dtype=np.float64)
    best = float(plain.max())
    floor = RELEVANT_SHARE * best if best > 0 else best - abs(best) * (1 - RELEVANT_SHARE)
    band = best - floor
    relevant = plain >= floor
    signals = affinities(hits, recommender, h)
    owned = _owned_non_consumables(hits, recommender, h)
    for name in _OWN_PURCHASE:  # having bought a tent once is no reason to show it first: only rebuys count
        signals[name] = np.where(owned > 0, 0.0, signals[name])
    for name, values in signals.items():  # which of *these* relevant hits the shopper prefers: min-max over the band
        lo, hi = float(values[relevant].min()), float(values[relevant].max())
        signals[name] = np.clip((values - lo) / (hi - lo), 0.0, 1.0) if hi - lo > 1e-9 else np.zeros(len(hits))
    # Weights of the signals that say something about this pool: a catalog without brands, or a shopper the
    # collaborative sources know nothing about, leaves the other signals the whole range.
    active = {name: w for name, w in AFFINITY_WEIGHTS.items() if signals[name][relevant].any()}
    total = sum(active.values())
    affinity = sum(w * signals[name] for name, w in active.items()) / total if total else np.zeros(len(hits))
    boost = np.where(relevant, BOOST_SHARE * band * (affinity - OWNED_PENALTY * owned), 0.0)
    final = plain + boost
    order = sorted(range(len(hits)), key=lambda i: (-final[i], i))
    out = []
    for new_rank, i in enumerate(order):
        x = hits[i]
        why = list(x.why)
        if new_rank != i:
            if new_rank < i:
                strongest = max(signals, key=lambda name: AFFINITY_WEIGHTS[name] * signals[name][i])
                why.append(f"personalised: moved up from {i + 1} to {new_rank + 1} ({_SIGNAL_WORDS[strongest]})")
            elif owned[i]:
                why.append(f"personalised: moved down from {i + 1} to {new_rank + 1} (you already bought it)")
            else:
                why.append(f"personalised: moved down from {i + 1} to {new_rank + 1} (others fit your history better)")
        scores = {**x.scores, "plain": round(float(plain[i]), 5), "personal": round(float(boost[i]), 5)}
        out.append(Hit(product=x.product, score=round(float(final[i]), 5), scores=scores, why=why, reason=x.reason))
    return out


def affinities(hits: list[Hit], recommender: Recommender, h: History) -> dict[str, np.ndarray]:
    """Each signal of `AFFINITY_WEIGHTS` for every hit, in [0, 1]."""
    n = len(hits)
    pos = np.array([recommender.index.get(x.product.id, -1) for x in hits])
    known = pos >= 0
    out = {name: np.zeros(n) for name in AFFINITY_WEIGHTS}
    feats = recommender.scorer.features(h)  # (catalog, FEATURES)
    for name, feature in PERSONAL_SOURCES.items():
        out[name][known] = feats[pos[known], FEATURES.index(feature)]
    if h.profile is not None and recommender.vectors is not None:
        out["session"][known] = np.maximum(recommender.vectors[pos[known]] @ h.profile, 0.0)
    taste = _taste(recommender, h)
    for i, x in enumerate(hits):
        p = x.product
        if p.category:
            out["category"][i] = taste["category"].get(p.category[-1], 0.0)
        if p.brand:
            out["brand"][i] = taste["brand"].get(p.brand.lower(), 0.0)
        if p.price and taste["price"] is not None:
            out["price"][i] = math.pow(0.5, abs(math.log(p.price) - taste["price"]) / PRICE_WIDTH)
        sizes, colours = _sizes(p), {c.lower() for c in p.colours}
        if (sizes & taste["sizes"]) or (colours & taste["colours"]):
            out["size_colour"][i] = 1.0
    return out


def _taste(recommender: Recommender, h: History) -> dict:
    """Shares of the shopper's interest per leaf category and brand, their typical log price, sizes and colours bought."""
    category: dict[str, float] = {}
    brand: dict[str, float] = {}
    prices, price_w = [], []
    sizes: set[str] = set()
    colours: set[str] = set()
    total = float(h.strength.sum())
    for j, s, bought in zip(h.items, h.strength, h.purchases > 0, strict=True):
        p = recommender.products[j]
        if s <= 0:
            continue
        if p.category:
            category[p.category[-1]] = category.get(p.category[-1], 0.0) + s
        if p.brand:
            brand[p.brand.lower()] = brand.get(p.brand.lower(), 0.0) + s
        if p.price:
            prices.append(math.log(p.price))
            price_w.append(s)
        if bought:  # a product in one size or colour says which one was bought
            one_size, one_colour = _sizes(p), {c.lower() for c in p.colours}
            sizes |= one_size if len(one_size) == 1 else set()
            colours |= one_colour if len(one_colour) == 1 else set()
    scale = max(total, 1e-9)
    typical = float(np.average(prices, weights=price_w)) if prices else None
    return {
        "category": {c: v / scale for c, v in category.items()},
        "brand": {b: v / scale for b, v in brand.items()},
        "price": typical, "sizes": sizes, "colours": colours,
    }


def _sizes(p: Product) -> set[str]:
    return {v.size.lower() for v in p.variants if v.size}


def _owned_non_consumables(hits: list[Hit], recommender: Recommender, h: History) -> np.ndarray:
    """1.0 for hits the shopper bought once that people do not buy again (the recommender's repeat rates); an
    item this shopper bought on two days or more is one they rebuy, whatever others do."""
    once = set(h.items[h.purchases == 1].tolist())
    out = np.zeros(len(hits))
    for i, x in enumerate(hits):
        j = recommender.index.get(x.product.id)
        if j is not None and j in once and recommender.model.repeat_rate[j] < REPEATABLE_RATE:
            out[i] = 1.0
    return out
