"""The trained side of recommendations: what `shopbot recs train` learns, and per-shopper scoring.

`train_model` fits five sources on the event log, each a score for every catalog item (dense arrays:
catalogs here are thousands of items):

* `repurchase`  - the shopper's own purchases, by decayed frequency, for items people do buy again;
* `cooc`        - item-to-item co-occurrence ("customers who bought X also bought Y"), from the history;
* `als`         - implicit ALS item factors; the user vector is re-solved from the live history per request;
* `content`     - cosine between the shopper's real-time profile (`retrieval.recs.profiles`) and item embeddings,
                  so a brand-new product is recommendable the moment it has a vector;
* `trending`    - decayed recent popularity (plus a slower "popular" feature).

and a logistic-regression ranker on the last 30 days of the log (one for "anything", one for "only items
not bought yet"). `Scorer.features` turns a shopper's `History` into the (items x features) matrix the ranker
blends. `retrieval.recs.recommend` serves it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.config import RecsSettings
from retrieval.errors import RetrievalError
from retrieval.recs.events import Event, EventRow
from retrieval.recs.profiles import Profile, event_weight

logger = logging.getLogger(__name__)

SOURCES = ("repurchase", "cooc", "als", "content", "trending")
FEATURES = (*SOURCES, "popular", "bought")  # popular: slower-decaying popularity; bought: already bought
DAY = 86_400.0
REPURCHASE_HALF_LIFE_DAYS = 60.0  # how fast an old purchase stops predicting the next one
TREND_HALF_LIFE_DAYS = 3.0  # "trending": what shoppers touched in the last days
POPULAR_HALF_LIFE_DAYS = 30.0  # "popular": the season's sellers
TREND_WINDOW_DAYS = 7.0  # "this week"
NEIGHBOURS = 200  # co-occurrence neighbours kept per item
RANKER_HOLDOUT_DAYS = 30.0
MODEL_FORMAT = 2  # model.npz layout; 1 (no "format" entry) pickled the item ids

# ---------------------------------------------------------------- the trained model


@dataclass
class RecsModel:
    """Everything `recs train` learns, indexed like `item_ids`."""

    item_ids: list[str]
    item_factors: np.ndarray  # (n, f) float32; zero rows for items ALS never saw
    als_regularization: float
    als_alpha: float
    cooc: Any  # scipy.sparse.csr_matrix (n, n): cosine of co-purchase counts, top NEIGHBOURS per row
    popularity: np.ndarray  # (n,) distinct buyers, all time
    trending: np.ndarray  # (n,) decayed distinct shoppers (half-life TREND_HALF_LIFE_DAYS)
    seasonal: np.ndarray  # (n,) decayed distinct shoppers (half-life POPULAR_HALF_LIFE_DAYS)
    week: np.ndarray  # (n,) shoppers in the last TREND_WINDOW_DAYS
    repeat_rate: np.ndarray  # (n,) smoothed share of buyers who bought again
    ranker_all: dict[str, float]  # feature -> weight, plus "bias"
    ranker_new: dict[str, float]
    trained_at: float  # time of the last training event

    def save(self, folder: Path) -> None:
        import scipy.sparse as sp

        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "model.tmp.npz"
        np.savez(
            tmp,
            format=np.array(MODEL_FORMAT),
            item_ids=np.array(self.item_ids, dtype=str),  # fixed-width unicode: loads without pickle
            item_factors=self.item_factors,
            als=np.array([self.als_regularization, self.als_alpha, self.trained_at]),
            popularity=self.popularity,
            trending=self.trending,
            seasonal=self.seasonal,
            week=self.week,
            repeat_rate=self.repeat_rate,
            ranker_all=np.array([self.ranker_all.get(f, 0.0) for f in (*FEATURES, "bias")]),
            ranker_new=np.array([self.ranker_new.get(f, 0.0) for f in (*FEATURES, "bias")]),
        )
        sp.save_npz(folder / "cooc.tmp.npz", self.cooc)
        (folder / "cooc.tmp.npz").replace(folder / "cooc.npz")
        tmp.replace(folder / "model.npz")

    @classmethod
    def load(cls, folder: Path) -> RecsModel:
        import scipy.sparse as sp

        if not (folder / "model.npz").is_file():
            raise RetrievalError(f"No recommendation model in '{folder}'; run `shopbot recs train` first.")
        # never allow_pickle: the data home is a directory files get copied into, and unpickling runs code
        with np.load(folder / "model.npz", allow_pickle=False) as npz:
            version = int(npz["format"]) if "format" in npz.files else 1
            if version != MODEL_FORMAT:
                raise RetrievalError(
                    f"The recommendation model in '{folder}' is in an older format (version {version}, which stored "
                    f"its ids pickled; this version reads {MODEL_FORMAT}); run `shopbot recs train` again."
                )
            z = {name: npz[name] for name in npz.files}
        keys = (*FEATURES, "bias")
        return cls(
            item_ids=[str(i) for i in z["item_ids"]],
            item_factors=z["item_factors"],
            als_regularization=float(z["als"][0]),
            als_alpha=float(z["als"][1]),
            cooc=sp.load_npz(folder / "cooc.npz").tocsr(),
            popularity=z["popularity"],
            trending=z["trending"],
            seasonal=z["seasonal"],
            week=z["week"],
            repeat_rate=z["repeat_rate"],
            ranker_all=dict(zip(keys, map(float, z["ranker_all"]), strict=True)),
            ranker_new=dict(zip(keys, map(float, z["ranker_new"]), strict=True)),
            trained_at=float(z["als"][2]),
        )

    def aligned(self, item_ids: Sequence[str]) -> RecsModel:
        """The same model re-indexed to `item_ids` (items it never saw get zeros)."""
        import scipy.sparse as sp

        if list(item_ids) == self.item_ids:
            return self
        pos = {pid: i for i, pid in enumerate(self.item_ids)}
        src = np.array([pos.get(pid, -1) for pid in item_ids])
        known = src >= 0
        n = len(item_ids)

        def take(a: np.ndarray) -> np.ndarray:
            out = np.zeros((n, *a.shape[1:]), dtype=a.dtype)
            out[known] = a[src[known]]
            return out

        # cooc: select rows/cols of the known items, then scatter into the new index space
        sel = sp.csr_matrix((np.ones(known.sum()), (np.flatnonzero(known), src[known])), shape=(n, len(self.item_ids)))
        cooc = (sel @ self.cooc @ sel.T).tocsr().astype(np.float32)
        return RecsModel(
            item_ids=list(item_ids), item_factors=take(self.item_factors), als_regularization=self.als_regularization,
            als_alpha=self.als_alpha, cooc=cooc, popularity=take(self.popularity), trending=take(self.trending),
            seasonal=take(self.seasonal), week=take(self.week), repeat_rate=np.where(known, take(self.repeat_rate), float(np.median(self.repeat_rate))),
            ranker_all=self.ranker_all, ranker_new=self.ranker_new, trained_at=self.trained_at,
        )


# Until a ranker is fitted (too few events), sources are blended with these weights.
_DEFAULT_RANKER = {
    "repurchase": 2.0, "cooc": 1.0, "als": 1.0, "content": 1.0, "trending": 0.3, "popular": 0.3, "bought": 0.0, "bias": 0.0,
}


def _interactions(rows: Sequence[EventRow], index: dict[str, int], purchases_only: bool):
    """(user ids, csr users x items of summed event weights)."""
    import scipy.sparse as sp

    users: dict[str, int] = {}
    r, c, v = [], [], []
    for e in rows:
        if e.product_id is None or e.product_id not in index or e.type == "search":
            continue
        if purchases_only and e.type not in ("purchase", "add_to_cart"):
            continue
        w = event_weight(e.type, e.value)
        if w <= 0 or (e.type == "purchase" and e.value is not None and e.value < 0):
            continue
        r.append(users.setdefault(e.user_id, len(users)))
        c.append(index[e.product_id])
        v.append(w)
    m = sp.csr_matrix((np.array(v, dtype=np.float32), (r, c)), shape=(len(users), len(index)))
    m.sum_duplicates()
    return list(users), m


def _fit_sources(rows: Sequence[EventRow], item_ids: list[str], settings: RecsSettings, now: float) -> RecsModel:
    """Fit every source on `rows` (events before `now`); the ranker is left at its default."""
    import scipy.sparse as sp

    index = {pid: i for i, pid in enumerate(item_ids)}
    n = len(item_ids)
    _, ui = _interactions(rows, index, purchases_only=False)
    # --- ALS on log-scaled interaction weights (confidence = alpha * log1p(w))
    factors = np.zeros((n, settings.als_factors), dtype=np.float32)
    reg, alpha = 0.05, 2.0
    if ui.nnz >= 10 and ui.shape[0] >= 2:
        from implicit.cpu.als import AlternatingLeastSquares

        conf = ui.copy()
        conf.data = np.log1p(conf.data).astype(np.float32)
        als = AlternatingLeastSquares(
            factors=settings.als_factors, iterations=settings.als_iterations, regularization=reg, alpha=alpha,
            num_threads=1, random_state=0,
        )
        als.fit(conf, show_progress=False)
        factors = np.asarray(als.item_factors, dtype=np.float32)
    # --- co-occurrence cosine over buyers (binary user x item), top NEIGHBOURS per item
    _, bought = _interactions(rows, index, purchases_only=True)
    b = bought.copy()
    b.data[:] = 1.0
    counts = np.asarray(b.sum(axis=0)).ravel()
    co = (b.T @ b).tocsr().astype(np.float32)
    co.setdiag(0)
    co.eliminate_zeros()
    norm = np.sqrt(np.maximum(counts, 1.0))
    co = sp.diags(1.0 / norm) @ co @ sp.diags(1.0 / norm)
    co = _top_per_row(co.tocsr(), NEIGHBOURS)
    # --- popularity, trending, repeat rate
    shoppers: dict[tuple[str, int], float] = {}  # (user, item) -> last ts
    buys: dict[tuple[str, int], set] = {}
    for e in rows:
        i = index.get(e.product_id) if e.product_id else None
        if i is None:
            continue
        key = (e.user_id, i)
        shoppers[key] = max(shoppers.get(key, 0.0), e.ts)
        if e.type == "purchase" and (e.value is None or e.value > 0):
            buys.setdefault(key, set()).add(int(e.ts // DAY))
    trending = np.zeros(n, dtype=np.float32)
    seasonal = np.zeros(n, dtype=np.float32)
    week = np.zeros(n, dtype=np.float32)
    for (_, i), ts in shoppers.items():
        age = max(now - ts, 0.0)
        trending[i] += math.pow(0.5, age / (TREND_HALF_LIFE_DAYS * DAY))
        seasonal[i] += math.pow(0.5, age / (POPULAR_HALF_LIFE_DAYS * DAY))
        week[i] += age <= TREND_WINDOW_DAYS * DAY
    buyers = np.zeros(n)
    repeaters = np.zeros(n)
    for (_, i), days in buys.items():
        buyers[i] += 1
        repeaters[i] += len(days) > 1
    prior = repeaters.sum() / max(buyers.sum(), 1.0)
    repeat_rate = ((repeaters + 2 * prior) / (buyers + 2)).astype(np.float32)  # 2 pseudo-buyers at the mean
    last = max((e.ts for e in rows), default=now)
    return RecsModel(
        item_ids=list(item_ids), item_factors=factors, als_regularization=reg, als_alpha=alpha, cooc=co,
        popularity=buyers.astype(np.float32), trending=trending, seasonal=seasonal, week=week, repeat_rate=repeat_rate,
        ranker_all=dict(_DEFAULT_RANKER), ranker_new=dict(_DEFAULT_RANKER), trained_at=min(last, now),
    )


def _top_per_row(m, k: int):
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for i in range(m.shape[0]):
        start, end = m.indptr[i], m.indptr[i + 1]
        if end == start:
            continue
        d, c = m.data[start:end], m.indices[start:end]
        if len(d) > k:
            keep = np.argpartition(-d, k)[:k]
            d, c = d[keep], c[keep]
        rows.extend([i] * len(d))
        cols.extend(c.tolist())
        vals.extend(d.tolist())
    return sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=m.shape)


def train_model(
    rows: Sequence[EventRow],
    item_ids: list[str],
    settings: RecsSettings,
    *,
    vectors: np.ndarray | None = None,
    now: float | None = None,
) -> RecsModel:
    """Fit the sources on `rows` and, when the log is long enough, the ranker on its last 30 days.

    The ranker: sources fitted on events before the holdout score every item for each shopper active on
    both sides; a logistic regression learns which blend predicts the holdout purchases (all items, and
    separately items not bought before). `vectors` (n, dim) are the item embeddings for the content source.
    """
    rows = sorted(rows, key=lambda e: e.ts)
    if not rows:
        raise RetrievalError("No events to train on; record events or import some (`shopbot recs train`).")
    now = now if now is not None else rows[-1].ts + 1.0
    model = _fit_sources(rows, item_ids, settings, now)
    cut = min(now, rows[-1].ts) - RANKER_HOLDOUT_DAYS * DAY  # the last 30 days of the log
    early = [e for e in rows if e.ts < cut]
    if early and len(early) < len(rows):
        fitted = _fit_ranker(early, [e for e in rows if e.ts >= cut], item_ids, vectors, settings, cut)
        if fitted is not None:
            model.ranker_all, model.ranker_new = fitted
    logger.info("trained recs on %d events, %d items; ranker(all)=%s", len(rows), len(item_ids), model.ranker_all)
    return model


def _fit_ranker(early, late, item_ids, vectors, settings, cut):
    from sklearn.linear_model import LogisticRegression

    index = {pid: i for i, pid in enumerate(item_ids)}
    model = _fit_sources(early, item_ids, settings, cut)
    scorer = Scorer(model, vectors, settings)
    histories = build_histories(early, index, vectors, settings, cut)
    targets: dict[str, set[int]] = {}
    for e in late:
        if e.type == "purchase" and e.product_id in index and e.user_id in histories:
            targets.setdefault(e.user_id, set()).add(index[e.product_id])
    if len(targets) < 20:
        logger.info("only %d shoppers in the ranker holdout; keeping the default blend", len(targets))
        return None
    rng = np.random.default_rng(0)
    users = sorted(targets)
    if len(users) > 800:
        users = list(rng.choice(users, 800, replace=False))
    fitted = []
    for new_only in (False, True):
        xs, ys = [], []
        for u in users:
            h = histories[u]
            feats = scorer.features(h)
            allowed = np.ones(len(item_ids), dtype=bool)
            if new_only:
                allowed[h.bought_items] = False
            cand = scorer.candidates(feats, allowed, per_source=50)
            rel = np.zeros(len(cand))
            hit = [j for j, c in enumerate(cand) if c in targets[u]]
            rel[hit] = 1
            if new_only and not hit:
                continue
            xs.append(feats[cand])
            ys.append(rel)
        x, y = np.concatenate(xs), np.concatenate(ys)
        if y.sum() < 5 or y.sum() == len(y):
            fitted.append(dict(_DEFAULT_RANKER))
            continue
        lr = LogisticRegression(C=1.0, max_iter=500).fit(x, y)
        weights = dict(zip(FEATURES, map(float, lr.coef_[0]), strict=True))
        weights["bias"] = float(lr.intercept_[0])
        fitted.append(weights)
    return fitted[0], fitted[1]


# ---------------------------------------------------------------- per-shopper state and scoring


@dataclass
class History:
    """What one shopper did, indexed by catalog position (built from their events)."""

    user_id: str
    items: np.ndarray  # (m,) item positions touched
    strength: np.ndarray  # (m,) decayed interest weight
    last_kind: list[str]  # (m,) strongest kind of event per item
    purchases: np.ndarray  # (m,) purchase count (distinct days)
    repurchase: np.ndarray  # (m,) decayed purchase frequency
    last_bought: np.ndarray  # (m,) ts of the last purchase, 0 if never
    profile: np.ndarray | None = None  # unit interest vector, or None
    queries: list[str] = field(default_factory=list)  # latest searches, newest last

    @property
    def bought_items(self) -> np.ndarray:
        return self.items[self.purchases > 0]


_KIND_RANK = {"view": 0, "click": 1, "rate": 2, "add_to_cart": 3, "purchase": 4}


def history_from_events(
    user_id: str,
    events: Sequence[Event | EventRow],
    index: dict[str, int],
    settings: RecsSettings,
    now: float,
    profile: np.ndarray | None = None,
) -> History:
    """Aggregate one shopper's events (any order) into a `History`."""
    hl = settings.half_life_days * DAY
    agg: dict[int, list] = {}  # item -> [strength, kind, purchase days, repurchase, last bought]
    queries = []
    for e in events:
        if e.type == "search":
            if e.context:
                queries.append(e.context)
            continue
        i = index.get(e.product_id)
        if i is None or e.ts > now:
            continue
        a = agg.setdefault(i, [0.0, "view", set(), 0.0, 0.0])
        w = event_weight(e.type, e.value)
        cancelled = e.type == "purchase" and e.value is not None and e.value < 0
        a[0] += (-w if cancelled else w) * math.pow(0.5, (now - e.ts) / hl)
        if _KIND_RANK.get(e.type, 0) >= _KIND_RANK.get(a[1], 0) and not cancelled:
            a[1] = e.type
        if e.type == "purchase" and not cancelled:
            day = int(e.ts // DAY)
            if day not in a[2]:
                a[2].add(day)
                a[3] += math.pow(0.5, (now - e.ts) / (REPURCHASE_HALF_LIFE_DAYS * DAY))
            a[4] = max(a[4], e.ts)
    items = np.array(list(agg), dtype=np.int64)
    vals = list(agg.values())
    return History(
        user_id=user_id,
        items=items,
        strength=np.array([max(v[0], 0.0) for v in vals], dtype=np.float32),
        last_kind=[v[1] for v in vals],
        purchases=np.array([len(v[2]) for v in vals], dtype=np.float32),
        repurchase=np.array([v[3] for v in vals], dtype=np.float32),
        last_bought=np.array([v[4] for v in vals], dtype=np.float64),
        profile=profile,
        queries=queries[-5:],
    )


def build_histories(
    rows: Sequence[EventRow], index: dict[str, int], vectors: np.ndarray | None, settings: RecsSettings, now: float
) -> dict[str, History]:
    """Histories (with profiles folded event by event, as live traffic would) for every user in `rows`."""
    by_user: dict[str, list[EventRow]] = {}
    for e in rows:
        if e.ts < now:
            by_user.setdefault(e.user_id, []).append(e)
    out = {}
    for user, events in by_user.items():
        vec = None
        if vectors is not None:
            p = Profile.empty(user, vectors.shape[1])
            for e in events:
                i = index.get(e.product_id) if e.product_id else None
                if i is not None:
                    p.update(e.type, e.ts, vectors[i], settings, session_id=e.session_id, value=e.value)
            vec = p.vector(now, settings)
        out[user] = history_from_events(user, events, index, settings, now, vec)
    return out


class Scorer:
    """Computes the per-source feature matrix for one shopper over the whole catalog."""

    def __init__(self, model: RecsModel, vectors: np.ndarray | None, settings: RecsSettings) -> None:
        self.model = model
        self.vectors = vectors
        self.settings = settings
        y = model.item_factors
        self._yty = (y.T @ y).astype(np.float64)
        self._has_factors = bool(np.any(y))
        self._trend = model.trending / max(float(model.trending.max()), 1e-9)
        log_season = np.log1p(model.seasonal)
        self._season = log_season / max(float(log_season.max()), 1e-9)

    def user_factors(self, h: History) -> np.ndarray | None:
        """Solve the ALS user vector from the live history (same normal equations implicit uses)."""
        if not self._has_factors or len(h.items) == 0:
            return None
        keep = h.strength > 0
        if not keep.any():
            return None
        y = self.model.item_factors[h.items[keep]].astype(np.float64)  # (m, f)
        c = self.model.als_alpha * np.log1p(h.strength[keep].astype(np.float64))
        a = self._yty + (y.T * (c - 1.0)) @ y + self.model.als_regularization * np.eye(y.shape[1])
        b = y.T @ c
        return np.linalg.solve(a, b)

    def features(self, h: History) -> np.ndarray:
        """(n, len(FEATURES)) scores, each source scaled to at most 1 for this shopper."""
        n = len(self.model.item_ids)
        f = np.zeros((n, len(FEATURES)), dtype=np.float32)
        if len(h.items):
            rep = np.zeros(n, dtype=np.float32)
            rep[h.items] = h.repurchase * self.model.repeat_rate[h.items]
            f[:, 0] = rep / max(float(rep.max()), 1e-9)
            w = np.log1p(h.strength)
            cooc = np.asarray(self.model.cooc[h.items].T @ w).ravel()
            f[:, 1] = cooc / max(float(cooc.max()), 1e-9)
            x = self.user_factors(h)
            if x is not None:
                als = np.maximum(self.model.item_factors @ x.astype(np.float32), 0.0)
                f[:, 2] = als / max(float(als.max()), 1e-9)
            bought = h.items[h.purchases > 0]
            f[bought, 6] = 1.0
        if h.profile is not None and self.vectors is not None:
            f[:, 3] = np.maximum(self.vectors @ h.profile, 0.0)
        f[:, 4] = self._trend
        f[:, 5] = self._season
        return f

    @staticmethod
    def candidates(feats: np.ndarray, allowed: np.ndarray, per_source: int) -> np.ndarray:
        """Union of each source's top `per_source` allowed items."""
        picked: set[int] = set()
        idx = np.flatnonzero(allowed)
        for s in range(len(SOURCES)):
            col = feats[idx, s]
            nz = np.flatnonzero(col > 0)
            if len(nz) == 0:
                continue
            top = nz[np.argsort(-col[nz], kind="stable")[:per_source]]
            picked.update(idx[top].tolist())
        return np.array(sorted(picked), dtype=np.int64)

    @staticmethod
    def blend(feats: np.ndarray, weights: dict[str, float]) -> np.ndarray:
        w = np.array([weights.get(name, 0.0) for name in FEATURES], dtype=np.float32)
        return feats @ w + weights.get("bias", 0.0)


def empty_model(item_ids: list[str], settings: RecsSettings) -> RecsModel:
    """A model with no signal (no events yet): content and history still work."""
    import scipy.sparse as sp

    n = len(item_ids)
    return RecsModel(
        item_ids=list(item_ids), item_factors=np.zeros((n, settings.als_factors), np.float32), als_regularization=0.05,
        als_alpha=2.0, cooc=sp.csr_matrix((n, n), dtype=np.float32), popularity=np.zeros(n, np.float32),
        trending=np.zeros(n, np.float32), seasonal=np.zeros(n, np.float32), week=np.zeros(n, np.float32), repeat_rate=np.zeros(n, np.float32),
        ranker_all=dict(_DEFAULT_RANKER), ranker_new=dict(_DEFAULT_RANKER), trained_at=0.0,
    )
