"""Recommendation benchmark on UCI Online Retail (`../shared/data/online_retail`): ingest and latency.

Runs only with `pytest --benchmarks` (`make bench`). In one run it measures:

* **bulk ingest**: all 395k purchase events into a fresh `EventStore` (`append_many`, 5,000 per commit);
* **live ingest**: `Recommender.record` one event at a time (one fsync'd commit + one profile upsert each),
  events/s and p95 per event;
* **training**: `train_model` on every event (ALS, co-occurrence, popularity, the ranker);
* **recommend latency**: p50/p95 of `Recommender.recommend(k=10)` for customers with about 100 events
  (the 30 customers closest to 100), over the 3,958-item catalog with 384-dim vectors.

Item vectors come from `HashingEmbedder(384)`: the same shape as MiniLM's, and latency does not depend on
what the vectors mean. Prints the figures and writes `test-artifacts/bench/recs.json`; no wall-clock asserts.

`test_personalised_search_benchmark`: `eval personalised-search` at split 2011-11-01 (the retail catalog in a
real Chroma index with the bundled MiniLM, the recommender trained before the split) on a fixed sample of
SHOPBOT_BENCH_PS_CUSTOMERS test customers (default 300, a few minutes); MRR@10 / nDCG@10 personalised against
plain in the same run, written to `test-artifacts/bench/personalised-search.json`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-artifacts" / "bench" / "recs.json"


def test_recs_benchmark(shared_data: Path, tmp_path: Path) -> None:
    from retrieval.config import RecsSettings
    from retrieval.embed import HashingEmbedder
    from retrieval.recs.events import Event, EventStore, read_online_retail
    from retrieval.recs.model import train_model
    from retrieval.recs.profiles import ProfileStore
    from retrieval.recs.recommend import Recommender, embed_products

    settings = RecsSettings()
    data = read_online_retail(shared_data / "online_retail" / "online_retail.csv.gz")
    products = data.products
    vectors = embed_products(products, HashingEmbedder(384), None)
    figures: dict = {"events": len(data.events), "items": len(products), "dim": int(vectors.shape[1])}

    store = EventStore(tmp_path / "events.db")
    start = time.perf_counter()
    store.append_many(data.events)
    bulk_s = time.perf_counter() - start
    figures["bulk_ingest_events_per_s"] = round(len(data.events) / bulk_s)

    start = time.perf_counter()
    model = train_model(store.rows(), [p.id for p in products], settings, vectors=vectors)
    figures["train_s"] = round(time.perf_counter() - start, 1)

    rec = Recommender(
        products, vectors, store, ProfileStore(tmp_path / "profiles.db", vectors.shape[1], settings), settings,
        model=model,
    )
    rng = np.random.default_rng(0)
    now = data.events[-1].ts + 3600
    live = []
    for n in range(1000):
        event = Event(type="view", user_id=f"live{n % 50}", product_id=products[int(rng.integers(len(products)))].id,
                      ts=now + n, session_id=f"s{n % 50}")
        t = time.perf_counter()
        rec.record(event)
        live.append(time.perf_counter() - t)
    figures["live_ingest_events_per_s"] = round(len(live) / sum(live))
    figures["live_ingest_p95_ms"] = round(float(np.percentile(live, 95)) * 1000, 2)

    counts: dict[str, int] = {}
    for e in data.events:
        counts[e.user_id] = counts.get(e.user_id, 0) + 1
    users = sorted(counts, key=lambda u: abs(counts[u] - 100))[:30]
    figures["latency_user_events_mean"] = round(float(np.mean([counts[u] for u in users])), 1)
    rec.recommend(users[0], k=10)  # warm caches
    lat = []
    for _ in range(5):
        for u in users:
            t = time.perf_counter()
            recs = rec.recommend(u, k=10, context={"now": now})
            lat.append(time.perf_counter() - t)
            assert len(recs) == 10 and all(r.reason for r in recs)
    figures["recommend_p50_ms"] = round(float(np.percentile(lat, 50)) * 1000, 2)
    figures["recommend_p95_ms"] = round(float(np.percentile(lat, 95)) * 1000, 2)
    figures["recommend_calls"] = len(lat)
    store.close()

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print("\nrecs benchmark:", json.dumps(figures, indent=2))


def test_personalised_search_benchmark(shared_data: Path, bundled_embedder_dir: Path) -> None:
    from retrieval.config import RetrievalSettings
    from retrieval.embed import Embedder
    from retrieval.personalise_eval import evaluate_personalised_search

    customers = int(os.environ.get("SHOPBOT_BENCH_PS_CUSTOMERS", "300"))
    start = time.perf_counter()
    result = evaluate_personalised_search(
        shared_data / "online_retail" / "online_retail.csv.gz", "2011-11-01", Embedder(bundled_embedder_dir),
        RetrievalSettings(), max_customers=customers,
    )
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["mrr_ratio"] = round(result["mrr@10"]["personalised"] / max(result["mrr@10"]["plain"], 1e-9), 3)
    out = OUT.with_name("personalised-search.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("\npersonalised search benchmark:", json.dumps(result, indent=2))
    assert result["queries"] >= min(customers, 100)
    assert result["mrr@10"]["personalised"] > result["mrr@10"]["plain"]
