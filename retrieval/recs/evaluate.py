"""Offline evaluation of recommendations on a purchase log with a temporal split (`shopbot eval recs`).

Protocol: train on events before the split date; the test set of a customer active in both periods is the
distinct items they bought from the split on. Mode `new` counts only items the customer had not bought
before (and every recommender is asked for unbought items); mode `all` counts repeat purchases too.
Metrics: Recall@20, nDCG@10 (binary gains), and catalog coverage = share of the catalog that appears in at
least one customer's top 20. Baselines in the same run: popularity (distinct buyers before the split),
implicit ALS (64 factors, plain counts, implicit's defaults otherwise), EASE (Steck 2019: dense closed form on
the binary buyers matrix, ridge `settings.ease_lambda`) and item-kNN (cosine between items' buyer sets, each
item's top `settings.neighbours` neighbours, a customer's score = summed similarity to what they bought).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.config import RecsSettings
from retrieval.errors import RetrievalError
from retrieval.recs.events import EventRow, EventStore, read_online_retail
from retrieval.recs.model import build_histories, ease_weights, top_per_row, train_model
from retrieval.recs.profiles import ProfileStore
from retrieval.recs.recommend import Recommender, RecsContext, TextEncoder, embed_products

logger = logging.getLogger(__name__)

K_RECALL = 20
K_NDCG = 10


def _metrics(lists: dict[str, list[int]], truth: dict[str, set[int]], n_items: int) -> dict[str, float]:
    recall, ndcg, seen = [], [], set()
    for user, rel in truth.items():
        recs = lists[user]
        seen.update(recs[:K_RECALL])
        recall.append(len(set(recs[:K_RECALL]) & rel) / len(rel))
        dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(recs[:K_NDCG]) if i in rel)
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(rel), K_NDCG)))
        ndcg.append(dcg / ideal)
    return {
        "recall@20": round(float(np.mean(recall)), 4) if recall else 0.0,
        "ndcg@10": round(float(np.mean(ndcg)), 4) if ndcg else 0.0,
        "coverage": round(len(seen) / max(n_items, 1), 4),
    }


def _als_baseline(train: Sequence[EventRow], index: dict[str, int], users: list[str], factors: int):
    """Plain implicit ALS: purchase counts, 64 factors, implicit's default regularisation and alpha."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    uidx: dict[str, int] = {}
    r, c = [], []
    for e in train:
        if e.type == "purchase" and e.product_id in index:
            r.append(uidx.setdefault(e.user_id, len(uidx)))
            c.append(index[e.product_id])
    m = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(uidx), len(index)))
    m.sum_duplicates()
    als = AlternatingLeastSquares(factors=factors, iterations=15, num_threads=1, random_state=0)
    als.fit(m, show_progress=False)
    scores = {}
    for u in users:
        scores[u] = np.asarray(als.item_factors) @ np.asarray(als.user_factors[uidx[u]])
    return scores


def _date(value: str, flag: str) -> float:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise RetrievalError(f"{flag} '{value}' is not a date; use YYYY-MM-DD, e.g. 2011-11-01.") from exc


def _buyers_matrix(train: Sequence[EventRow], index: dict[str, int]):
    """(user -> row, binary csr users x items of purchases)."""
    import scipy.sparse as sp

    uidx: dict[str, int] = {}
    r, c = [], []
    for e in train:
        if e.type == "purchase" and e.product_id in index:
            r.append(uidx.setdefault(e.user_id, len(uidx)))
            c.append(index[e.product_id])
    m = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(uidx), len(index)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return uidx, m


def _ease_baseline(train: Sequence[EventRow], index: dict[str, int], users: list[str], lam: float):
    """Plain EASE: dense B from the binary buyers matrix; a customer's scores are x_u @ B."""
    uidx, x = _buyers_matrix(train, index)
    b = ease_weights(x, lam, dense=True)
    rows = x[[uidx[u] for u in users]]
    scores = np.asarray(rows @ b)
    return {u: scores[n] for n, u in enumerate(users)}


def _itemknn_baseline(train: Sequence[EventRow], index: dict[str, int], users: list[str], k: int):
    """Item-kNN: cosine between items' buyer sets, top `k` neighbours per item, summed over the customer's items."""
    import scipy.sparse as sp

    uidx, x = _buyers_matrix(train, index)
    counts = np.asarray(x.sum(axis=0)).ravel()
    norm = sp.diags(1.0 / np.sqrt(np.maximum(counts, 1.0)))
    sim = (norm @ (x.T @ x) @ norm).tocsr()
    sim.setdiag(0)
    sim.eliminate_zeros()
    sim = top_per_row(sim, k)
    rows = x[[uidx[u] for u in users]]
    scores = (rows @ sim).toarray()
    return {u: scores[n] for n, u in enumerate(users)}


def evaluate_recs(
    transactions: Path,
    split_date: str,
    embedder: TextEncoder | None,
    settings: RecsSettings,
    *,
    cache_dir: Path | None = None,
    max_customers: int | None = None,
    until: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run the protocol above; returns the `eval recs --json` object.

    `max_customers` evaluates a deterministic sample of the test customers (the models still train on
    everyone). `until` (YYYY-MM-DD, exclusive) ends the test window, so a tuning split can stop where a later
    check split starts. `embedder` None leaves out the content source.
    """
    say = progress or (lambda msg: logger.info(msg))
    split = _date(split_date, "--split-date")
    end = _date(until, "--until") if until else float("inf")
    data = read_online_retail(Path(transactions))
    say(f"read {len(data.events)} purchases, {len(data.products)} items ({data.stats})")
    train = [e for e in data.events if e.ts < split]
    test = [e for e in data.events if split <= e.ts < end]
    if not train or not test:
        raise RetrievalError(
            f"--split-date {split_date} leaves {len(train)} events before and {len(test)} after; "
            "pick a date inside the file's range."
        )
    trained_items = sorted({e.product_id for e in train})
    products = [p for p in data.products if p.id in set(trained_items)]
    item_ids = [p.id for p in products]
    index = {pid: i for i, pid in enumerate(item_ids)}
    vectors = None
    if embedder is not None:
        say(f"embedding {len(products)} item descriptions with {embedder.name}")
        vectors = embed_products(products, embedder, cache_dir)
    bought_before: dict[str, set[int]] = {}
    for e in train:
        bought_before.setdefault(e.user_id, set()).add(index[e.product_id])
    after: dict[str, set[int]] = {}
    for e in test:
        if e.user_id in bought_before and e.product_id in index:
            after.setdefault(e.user_id, set()).add(index[e.product_id])
    users = sorted(after)
    if max_customers is not None and len(users) > max_customers:
        rng = np.random.default_rng(0)
        users = sorted(rng.choice(users, max_customers, replace=False).tolist())
    truth = {
        "all": {u: after[u] for u in users},
        "new": {u: after[u] - bought_before[u] for u in users if after[u] - bought_before[u]},
    }
    say(f"{len(users)} customers active in both periods ({len(truth['new'])} bought something new)")

    say("training the default recommender (sources + ranker)")
    model = train_model(train, item_ids, settings, vectors=vectors, now=split)
    histories = build_histories([e for e in train if e.user_id in set(users)], index, vectors, settings, split)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        dim = vectors.shape[1] if vectors is not None else 1
        rec = Recommender(
            products, vectors if vectors is not None else np.zeros((len(products), 1), np.float32),
            EventStore(Path(tmp) / "events.db"), ProfileStore(Path(tmp) / "profiles.db", dim, settings), settings,
            model=model,
        )
        if vectors is None:
            rec.vectors = None  # no content source, no MMR
            rec.scorer.vectors = None
        for mode in ("new", "all"):
            ctx = RecsContext(exclude_purchased=mode == "new", now=split)
            lists = {u: [rec.index[r.product_id] for r in rec.rank(histories[u], K_RECALL, ctx, split)] for u in truth[mode]}
            out[mode] = _metrics(lists, truth[mode], len(item_ids))
            say(f"default {mode}: {out[mode]}")

    pop_order = np.argsort(-model.popularity, kind="stable")
    scored = {
        "als": _als_baseline(train, index, users, factors=64),
        "ease": _ease_baseline(train, index, users, settings.ease_lambda),
        "itemknn": _itemknn_baseline(train, index, users, settings.neighbours),
    }
    out["baselines"] = {"popularity": {}, **{name: {} for name in scored}}
    for mode in ("new", "all"):
        pop_lists = {}
        for u in truth[mode]:
            skip = bought_before[u] if mode == "new" else set()
            pop_lists[u] = [i for i in pop_order[: K_RECALL + len(skip)].tolist() if i not in skip][:K_RECALL]
        out["baselines"]["popularity"][mode] = _metrics(pop_lists, truth[mode], len(item_ids))
        for name, scores in scored.items():
            lists = {}
            for u in truth[mode]:
                s = scores[u].copy()
                if mode == "new":
                    s[list(bought_before[u])] = -np.inf
                lists[u] = np.argsort(-s, kind="stable")[:K_RECALL].tolist()
            out["baselines"][name][mode] = _metrics(lists, truth[mode], len(item_ids))
        say(f"baselines {mode}: " + "; ".join(f"{name} {out['baselines'][name][mode]}" for name in out["baselines"]))
    logger.info("ranker weights: all=%s new=%s", model.ranker_all, model.ranker_new)
    return out
