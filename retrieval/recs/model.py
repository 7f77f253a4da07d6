"""The trained side of recommendations: what `shopbot recs train` learns, and per-shopper scoring.

`train_model` fits seven sources on the event log, each a score for every catalog item (dense arrays:
catalogs here are thousands of items):

* `repurchase`  - the shopper's own purchases, by decayed frequency, for items people do buy again;
* `cooc`        - item-to-item co-occurrence ("customers who bought X also bought Y"), from the history;
* `als`         - implicit ALS item factors; the user vector is re-solved from the live history per request;
* `content`     - cosine between the shopper's real-time profile (`retrieval.recs.profiles`) and item embeddings,
                  so a brand-new product is recommendable the moment it has a vector;
* `trending`    - decayed recent popularity (plus a slower "popular" feature);
* `ease`        - EASE (Steck 2019): closed-form ridge regression of each item on all others over the buyers
                  matrix, B = -P / diag(P) with P = (X'X + lambda I)^-1, zero diagonal, top neighbours per row;
* `seq`         - the order of baskets: what was bought in the same basket as X or in the shopper's next
                  basket after one holding X, scored from the shopper's latest baskets first.

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

SOURCES = ("repurchase", "cooc", "als", "content", "trending", "ease", "seq")
# Besides the sources (each scaled to at most 1 per shopper) the ranker sees: popular (slower-decaying
# popularity), bought (already bought), ease_raw (the EASE score unscaled: how sure, not only how it ranks),
# and item facts: log_buyers (all-time distinct buyers), log_week (shoppers this week), repeat_rate and
# age (log days since the item's first event: new arrivals sell differently); and the shopper's own record of
# the item, unscaled: log_purchases (distinct days bought), log_days_since (log days since the last purchase;
# NEVER_BOUGHT_LOG_DAYS for items never bought) and log_baskets_ago (log1p of baskets since last touched).
FEATURES = (
    *SOURCES, "popular", "bought", "ease_raw", "log_buyers", "log_week", "repeat_rate", "age",
    "log_purchases", "log_days_since", "log_baskets_ago",
)
NEVER_BOUGHT_LOG_DAYS = math.log1p(365.0)
NEVER_TOUCHED_LOG_BASKETS = math.log1p(100.0)
DAY = 86_400.0
REPURCHASE_HALF_LIFE_DAYS = 60.0  # how fast an old purchase stops predicting the next one
TREND_HALF_LIFE_DAYS = 3.0  # "trending": what shoppers touched in the last days
POPULAR_HALF_LIFE_DAYS = 30.0  # "popular": the season's sellers
TREND_WINDOW_DAYS = 7.0  # "this week"
SEQ_HALF_LIFE_BASKETS = 1.0  # `seq`: each older basket of the shopper counts half as much as the next one
RANKER_HOLDOUT_DAYS = 30.0
MODEL_FORMAT = 3  # model.npz layout; 1 pickled the item ids, 2 had no ease/seq sources

# ---------------------------------------------------------------- the trained model


@dataclass
class RecsModel:
    """Everything `recs train` learns, indexed like `item_ids`."""

    item_ids: list[str]
    item_factors: np.ndarray  # (n, f) float32; zero rows for items ALS never saw
    als_regularization: float
    als_alpha: float
    cooc: Any  # scipy.sparse.csr_matrix (n, n): cosine of co-purchase counts, top `neighbours` per row
    popularity: np.ndarray  # (n,) distinct buyers, all time
    trending: np.ndarray  # (n,) decayed distinct shoppers (half-life TREND_HALF_LIFE_DAYS)
    seasonal: np.ndarray  # (n,) decayed distinct shoppers (half-life POPULAR_HALF_LIFE_DAYS)
    week: np.ndarray  # (n,) shoppers in the last TREND_WINDOW_DAYS
    repeat_rate: np.ndarray  # (n,) smoothed share of buyers who bought again
    ranker_all: dict[str, float]  # feature -> weight, plus "bias"
    ranker_new: dict[str, float]
    trained_at: float  # time of the last training event
    ease: Any = None  # csr (n, n): EASE weights B[i, j] (item i in the history -> item j), top `neighbours` per row
    seq: Any = None  # csr (n, n): same-basket and next-basket counts i -> j, cosine-normalised, top per row
    first_seen: np.ndarray | None = None  # (n,) ts of the item's first event; trained_at for items never seen

    def __post_init__(self) -> None:
        import scipy.sparse as sp

        n = len(self.item_ids)
        if self.ease is None:
            self.ease = sp.csr_matrix((n, n), dtype=np.float32)
        if self.seq is None:
            self.seq = sp.csr_matrix((n, n), dtype=np.float32)
        if self.first_seen is None:
            self.first_seen = np.full(n, self.trained_at, dtype=np.float64)

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
            first_seen=self.first_seen,
            ranker_all=np.array([self.ranker_all.get(f, 0.0) for f in (*FEATURES, "bias")]),
            ranker_new=np.array([self.ranker_new.get(f, 0.0) for f in (*FEATURES, "bias")]),
        )
        for name in ("cooc", "ease", "seq"):
            sp.save_npz(folder / f"{name}.tmp.npz", getattr(self, name))
            (folder / f"{name}.tmp.npz").replace(folder / f"{name}.npz")
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
                    f"an older layout; this version reads {MODEL_FORMAT}); run `shopbot recs train` again."
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
            first_seen=z["first_seen"],
            ranker_all=dict(zip(keys, map(float, z["ranker_all"]), strict=True)),
            ranker_new=dict(zip(keys, map(float, z["ranker_new"]), strict=True)),
            trained_at=float(z["als"][2]),
            ease=sp.load_npz(folder / "ease.npz").tocsr(),
            seq=sp.load_npz(folder / "seq.npz").tocsr(),
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
        cooc, ease, seq = ((sel @ m @ sel.T).tocsr().astype(np.float32) for m in (self.cooc, self.ease, self.seq))
        return RecsModel(
            item_ids=list(item_ids), item_factors=take(self.item_factors), als_regularization=self.als_regularization,
            als_alpha=self.als_alpha, cooc=cooc, popularity=take(self.popularity), trending=take(self.trending),
            seasonal=take(self.seasonal), week=take(self.week), repeat_rate=np.where(known, take(self.repeat_rate), float(np.median(self.repeat_rate))),
            ranker_all=self.ranker_all, ranker_new=self.ranker_new, trained_at=self.trained_at, ease=ease, seq=seq,
            first_seen=np.where(known, take(self.first_seen), self.trained_at),
        )


# Until a ranker is fitted (too few events), sources are blended with these weights.
_DEFAULT_RANKER = {
    "repurchase": 2.0, "cooc": 1.0, "als": 1.0, "content": 1.0, "trending": 0.3, "ease": 1.0, "seq": 0.5,
    "popular": 0.3, "bought": 0.0, "bias": 0.0,  # the raw and item features start at 0
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
    co = top_per_row(co.tocsr(), settings.neighbours)
    ease = ease_weights(b, settings.ease_lambda, settings.neighbours)
    seq = _basket_transitions(rows, index, settings.neighbours)
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
    first_seen = np.full(n, min(last, now), dtype=np.float64)
    for e in rows:  # rows are in time order: the first touch of an item wins
        i = index.get(e.product_id) if e.product_id else None
        if i is not None and first_seen[i] > e.ts:
            first_seen[i] = e.ts
    return RecsModel(
        item_ids=list(item_ids), item_factors=factors, als_regularization=reg, als_alpha=alpha, cooc=co,
        popularity=buyers.astype(np.float32), trending=trending, seasonal=seasonal, week=week, repeat_rate=repeat_rate,
        ranker_all=dict(_DEFAULT_RANKER), ranker_new=dict(_DEFAULT_RANKER), trained_at=min(last, now), ease=ease,
        seq=seq, first_seen=first_seen,
    )


def ease_weights(x, lam: float, neighbours: int | None = None, *, dense: bool = False):
    """EASE item-item weights (Steck 2019, "Embarrassingly Shallow Autoencoders") from a users x items matrix.

    Closed form: P = (X'X + lam I)^-1, B = -P / diag(P) column-wise, diag(B) = 0. Items nobody bought get
    zero rows. Returns the dense (n, n) float32 array when `dense`, else a csr keeping each row's top
    `neighbours` positive weights (what a request multiplies; the negative tail only pushes items down).
    """
    import scipy.sparse as sp

    n = x.shape[1]
    seen = np.flatnonzero(np.asarray((x != 0).sum(axis=0)).ravel() > 0)
    full = np.zeros((n, n), dtype=np.float32)
    if len(seen) >= 2:
        xs = x[:, seen]
        g = (xs.T @ xs).toarray().astype(np.float64)
        g[np.diag_indices_from(g)] += lam
        p = np.linalg.inv(g)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        full[np.ix_(seen, seen)] = b.astype(np.float32)
    if dense:
        return full
    m = sp.csr_matrix(np.maximum(full, 0.0))
    return top_per_row(m, neighbours) if neighbours else m


def _basket_transitions(rows: Sequence[EventRow], index: dict[str, int], neighbours: int):
    """Counts of (i, j): j in the same purchase basket as i, or in the same shopper's next basket after one
    holding i; cosine-normalised by the items' basket counts, diagonal zero, top `neighbours` per row.

    A basket is a purchase's session id (the invoice on Online Retail); purchases without one are grouped by
    shopper and calendar day.
    """
    import scipy.sparse as sp

    baskets: dict[tuple[str, str], tuple[float, set[int]]] = {}
    for e in rows:
        if e.type != "purchase" or (e.value is not None and e.value < 0):
            continue
        i = index.get(e.product_id) if e.product_id else None
        if i is None:
            continue
        key = (e.user_id, e.session_id or f"day{int(e.ts // DAY)}")
        ts, items = baskets.get(key, (e.ts, set()))
        items.add(i)
        baskets[key] = (min(ts, e.ts), items)
    by_user: dict[str, list[tuple[float, set[int]]]] = {}
    for (user, _), basket in baskets.items():
        by_user.setdefault(user, []).append(basket)
    n = len(index)
    ordered: list[set[int]] = []  # every shopper's baskets in time order, shoppers one after another
    has_next: list[bool] = []
    for seq in by_user.values():
        seq.sort(key=lambda b: b[0])
        ordered += [items for _, items in seq]
        has_next += [True] * (len(seq) - 1) + [False]
    if not ordered:
        return sp.csr_matrix((n, n), dtype=np.float32)
    rows_ = np.repeat(np.arange(len(ordered)), [len(b) for b in ordered])
    cols = np.concatenate([np.fromiter(b, dtype=np.int64) for b in ordered])
    x = sp.csr_matrix((np.ones(len(cols), np.float32), (rows_, cols)), shape=(len(ordered), n))  # baskets x items
    nxt = sp.vstack([x[1:], sp.csr_matrix((1, n), dtype=np.float32)]).tocsr()
    nxt = sp.diags(np.array(has_next, dtype=np.float32)) @ nxt  # the row after a shopper's last basket is another's
    m = (x.T @ x + x.T @ nxt).tocsr()
    m.setdiag(0)
    m.eliminate_zeros()
    counts = np.asarray(x.sum(axis=0)).ravel()
    norm = np.sqrt(np.maximum(counts, 1.0))
    m = (sp.diags(1.0 / norm) @ m @ sp.diags(1.0 / norm)).tocsr().astype(np.float32)
    return top_per_row(m, neighbours)


def top_per_row(m, k: int):
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
        # standardised for the solver, then folded back so serving blends the raw features
        mu, sd = x.mean(axis=0), x.std(axis=0)
        sd[sd < 1e-9] = 1.0
        lr = LogisticRegression(C=1.0, max_iter=1000).fit((x - mu) / sd, y)
        coef = lr.coef_[0] / sd
        weights = dict(zip(FEATURES, map(float, coef), strict=True))
        weights["bias"] = float(lr.intercept_[0] - coef @ mu)
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
    baskets_ago: np.ndarray | None = None  # (m,) distinct sessions (baskets) since the item was last touched, 0 = latest
    profile: np.ndarray | None = None  # unit interest vector, or None
    now: float | None = None  # the time the history was read at
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
    sessions: dict[str, float] = {}  # session (or day) -> its latest ts
    last_session: dict[int, tuple[float, str]] = {}  # item -> (ts, session) of its latest touch
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
        key = e.session_id or f"day{int(e.ts // DAY)}"
        sessions[key] = max(sessions.get(key, 0.0), e.ts)
        if e.ts >= last_session.get(i, (-1.0, ""))[0]:
            last_session[i] = (e.ts, key)
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
    session_ts = np.sort(np.array(list(sessions.values()), dtype=np.float64))
    # baskets after the item's one = sessions whose latest event is later than that session's latest event
    ago = [len(session_ts) - np.searchsorted(session_ts, sessions[last_session[i][1]], side="right") for i in agg]
    return History(
        user_id=user_id,
        items=items,
        strength=np.array([max(v[0], 0.0) for v in vals], dtype=np.float32),
        last_kind=[v[1] for v in vals],
        purchases=np.array([len(v[2]) for v in vals], dtype=np.float32),
        repurchase=np.array([v[3] for v in vals], dtype=np.float32),
        last_bought=np.array([v[4] for v in vals], dtype=np.float64),
        baskets_ago=np.array(ago, dtype=np.float32),
        profile=profile,
        now=now,
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
        self._item_facts = np.stack([  # (n, 4): log_buyers, log_week, repeat_rate, age
            np.log1p(model.popularity), np.log1p(model.week), model.repeat_rate,
            np.log1p(np.maximum(model.trained_at - model.first_seen, 0.0) / DAY),
        ], axis=1).astype(np.float32)

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
        col = {name: j for j, name in enumerate(FEATURES)}
        f[:, col["log_days_since"]] = NEVER_BOUGHT_LOG_DAYS
        f[:, col["log_baskets_ago"]] = NEVER_TOUCHED_LOG_BASKETS

        def put(name: str, values: np.ndarray) -> None:
            f[:, col[name]] = values / max(float(values.max()), 1e-9)

        if len(h.items):
            rep = np.zeros(n, dtype=np.float32)
            rep[h.items] = h.repurchase * self.model.repeat_rate[h.items]
            put("repurchase", rep)
            w = np.log1p(h.strength)
            put("cooc", np.asarray(self.model.cooc[h.items].T @ w).ravel())
            x = self.user_factors(h)
            if x is not None:
                put("als", np.maximum(self.model.item_factors @ x.astype(np.float32), 0.0))
            liked = (h.strength > 0).astype(np.float32)
            ease = np.maximum(np.asarray(self.model.ease[h.items].T @ liked).ravel(), 0.0)
            put("ease", ease)
            f[:, col["ease_raw"]] = ease
            ago = h.baskets_ago if h.baskets_ago is not None else np.zeros(len(h.items), np.float32)
            recent = liked * np.power(0.5, ago / SEQ_HALF_LIFE_BASKETS)
            put("seq", np.asarray(self.model.seq[h.items].T @ recent).ravel())
            bought = h.purchases > 0
            f[h.items[bought], col["bought"]] = 1.0
            f[h.items, col["log_purchases"]] = np.log1p(h.purchases)
            f[h.items[bought], col["log_days_since"]] = np.log1p(
                np.maximum(h.now - h.last_bought[bought], 0.0) / DAY) if h.now is not None else 0.0
            f[h.items, col["log_baskets_ago"]] = np.log1p(ago)
        if h.profile is not None and self.vectors is not None:
            f[:, col["content"]] = np.maximum(self.vectors @ h.profile, 0.0)
        f[:, col["trending"]] = self._trend
        f[:, col["popular"]] = self._season
        f[:, col["log_buyers"] : col["age"] + 1] = self._item_facts
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
