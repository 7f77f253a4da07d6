"""Offline evaluation of personalised search on UCI Online Retail (`shopbot eval personalised-search`).

Protocol (fixed before any tuning):

* the retail catalog (every StockCode, title = its most common description) is indexed into a real Chroma
  collection with the given embedder, in a temporary data home; the recommender is trained on the purchases
  before the split date and every profile is folded from them (`Recommender.rebuild_profiles`);
* test customers: those who bought something from the split date on (before `until`, when given) and also
  before it, so a profile exists (customers with no history get exactly the plain ranking, see
  `retrieval.personalise`; their number is reported as `cold_customers`);
* queries: for each test customer, up to `per_customer` distinct items they bought in the test window, picked
  by a hash of (customer, item) so the choice is fixed and blind to the rankers; the query is the item's
  **head words**: the first two words of its description after dropping numbers, one-letter words and the
  stop words in `_STOP` ("LUNCH BAG RED RETROSPOT" -> "lunch bag", "SET OF 3 CAKE TINS" -> "set cake");
* metrics: the rank of that item in the top 10 for that customer, searched plain (`Searcher.search`) and
  personalised (`personalised_search` with the profile as of the split date): MRR@10 and nDCG@10 (one relevant
  item per query), means over queries.

`max_customers` evaluates a fixed sample of the test customers (the models still train on everyone).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.config import RetrievalSettings
from retrieval.errors import RetrievalError

logger = logging.getLogger(__name__)

K = 10
_STOP = {"of", "and", "the", "with", "in", "for", "a", "an", "on", "to", "set"}
_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


def head_words(description: str, n: int = 2) -> str:
    """The query rule above: the first `n` words, numbers, one-letter words and `_STOP` words left out."""
    kept = [w for w in _WORD.findall(description.lower()) if len(w) > 1 and w not in _STOP]
    return " ".join(kept[:n])


def _date(value: str, flag: str) -> float:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise RetrievalError(f"{flag} '{value}' is not a date; use YYYY-MM-DD, e.g. 2011-11-01.") from exc


def evaluate_personalised_search(
    transactions: Path,
    split_date: str,
    embedder,
    settings: RetrievalSettings,
    *,
    max_customers: int | None = None,
    per_customer: int = 1,
    until: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Run the protocol above; returns the `eval personalised-search --json` object:
    {"mrr@10": {"personalised", "plain"}, "ndcg@10": {...}, "queries", "customers", "cold_customers", ...}.
    """
    from retrieval.personalise import personalised_search
    from retrieval.recs.events import EventStore, read_online_retail
    from retrieval.recs.model import train_model
    from retrieval.recs.profiles import ProfileStore
    from retrieval.recs.recommend import Recommender, embed_products
    from retrieval.search import Searcher, open_store

    say = progress or logger.info
    split = _date(split_date, "--split-date")
    end = _date(until, "--until") if until else math.inf
    data = read_online_retail(Path(transactions))
    train = [e for e in data.events if e.ts < split]
    test = [e for e in data.events if split <= e.ts < end]
    if not train or not test:
        raise RetrievalError(
            f"--split-date {split_date} leaves {len(train)} events before and {len(test)} after; "
            "pick a date inside the file's range."
        )
    products = data.products
    titles = {p.id: p.title for p in products}
    before = {e.user_id for e in train}
    bought_after: dict[str, set[str]] = {}
    for e in test:
        bought_after.setdefault(e.user_id, set()).add(e.product_id)
    users = sorted(u for u in bought_after if u in before)
    cold = len(bought_after) - len(users)
    if max_customers is not None and len(users) > max_customers:
        users = sorted(np.random.default_rng(0).choice(users, max_customers, replace=False).tolist())
    queries = []
    for u in users:
        items = sorted(bought_after[u], key=lambda pid: hashlib.sha1(f"{u}\t{pid}".encode()).hexdigest())
        for pid in items:
            q = head_words(titles.get(pid, ""))
            if q:
                queries.append((u, pid, q))
            if sum(1 for x in queries if x[0] == u) >= per_customer:
                break
    say(f"{len(users)} customers with history and test purchases ({cold} without history left out), "
        f"{len(queries)} queries")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = open_store(settings, home, embedder, name="eval-retail")
        say(f"indexing {len(products)} retail items into Chroma with {embedder.name}")
        store.index(products)
        searcher = Searcher(store, settings)
        vectors = embed_products(products, embedder, home / "recs")
        say("training the recommender on the purchases before the split")
        model = train_model(train, [p.id for p in products], settings.recs, vectors=vectors, now=split)
        events = EventStore(home / "events.db")
        events.append_many(train)
        profiles = ProfileStore(home / "profiles.db", vectors.shape[1], settings.recs)
        rec = Recommender(products, vectors, events, profiles, settings.recs, model=model, embedder=embedder)
        rec.rebuild_profiles()
        ranks = {"plain": [], "personalised": []}
        for n, (u, pid, q) in enumerate(queries, start=1):
            plain = [h.product.id for h in searcher.search(q, k=K).hits]
            mine = [h.product.id for h in personalised_search(searcher, rec, q, k=K, user_id=u, now=split).hits]
            ranks["plain"].append(plain.index(pid) + 1 if pid in plain else None)
            ranks["personalised"].append(mine.index(pid) + 1 if pid in mine else None)
            if n % 200 == 0:
                say(f"{n}/{len(queries)} queries")
        events.close()
        profiles.close()

    def mrr(rs):
        return round(float(np.mean([1.0 / r if r else 0.0 for r in rs])), 4) if rs else 0.0

    def ndcg(rs):
        return round(float(np.mean([1.0 / math.log2(r + 1) if r else 0.0 for r in rs])), 4) if rs else 0.0

    out = {
        "mrr@10": {"personalised": mrr(ranks["personalised"]), "plain": mrr(ranks["plain"])},
        "ndcg@10": {"personalised": ndcg(ranks["personalised"]), "plain": ndcg(ranks["plain"])},
        "queries": len(queries),
        "customers": len(users),
        "cold_customers": cold,
        "found@10": {name: sum(r is not None for r in rs) for name, rs in ranks.items()},
        "split_date": split_date,
    }
    say(f"personalised search: {out}")
    return out
