"""Search benchmark on ESCI (`../shared/data/esci_mini`): ingest speed, the quality cost of low precision, latency.

Runs only with `pytest --benchmarks` (`make bench`). In one run it measures:

* **ingest throughput**: a plain sentence-transformers loop (`SentenceTransformer.encode` on each
  catalog batch of 64, in catalog order: what a simple indexer does) against our `Embedder` (its default
  precision, bf16 or int8 by CPU, + length-sorted batches), and our fp32 sorted-only variant, on the same texts;
* **quality cost**: the default pipeline's nDCG@10 with our index against an fp32 index built from
  the same texts (full catalog; both indexes are cached under `.shopbot-test-cache/bench-search`, so a
  re-run only re-embeds what changed);
* **query latency**: p50/p95 of the default pipeline (no LLM) over the 100 queries, next to a bare Chroma
  vector query (query vector precomputed) and embed + Chroma query, in the same run.

Prints the figures and writes `test-artifacts/bench/search.json` (after each phase, so a cut-short run
keeps what it measured); no wall-clock assertions. Knobs: SHOPBOT_BENCH_INGEST_N (texts in the throughput
comparison; default 2000, 0 = whole catalog); SHOPBOT_BENCH_QUALITY_QUERIES (default 0 = all queries over
the whole catalog; N = the first N queries over only the products judged for them, a cheaper ours-vs-fp32
comparison for a busy machine: absolute nDCG is then higher than over the full catalog, the delta is
what it measures); SHOPBOT_BENCH_PHASES (default "ingest,quality,latency").
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-artifacts" / "bench" / "search.json"
CACHE = Path(os.environ.get("SHOPBOT_TEST_CACHE", REPO / ".shopbot-test-cache")) / "bench-search"
INGEST_N = int(os.environ.get("SHOPBOT_BENCH_INGEST_N", "2000"))
QUALITY_QUERIES = int(os.environ.get("SHOPBOT_BENCH_QUALITY_QUERIES", "0"))
PHASES = os.environ.get("SHOPBOT_BENCH_PHASES", "ingest,quality,latency").split(",")


def _save(result: dict, out_file: Path) -> None:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=2))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_search_benchmark(shared_data: Path, bundled_embedder_dir: Path) -> None:
    from retrieval.config import RetrievalSettings
    from retrieval.embed import Embedder
    from retrieval.evaluate import load_qrels, load_queries
    from retrieval.ingest import load_catalog
    from retrieval.store import dense_text

    esci = shared_data / "esci_mini"
    products = load_catalog(esci / "products.jsonl").products
    queries, qrels = load_queries(esci / "queries.tsv"), load_qrels(esci / "qrels.tsv")
    texts = [dense_text(p) for p in (products[:INGEST_N] if INGEST_N else products)]
    result: dict = {"catalog_products": len(products), "ingest_texts": len(texts)}

    ours = Embedder(bundled_embedder_dir)
    fp32 = Embedder(bundled_embedder_dir, precision="fp32")
    settings = RetrievalSettings()
    out_file = OUT.with_name(f"search-{'-'.join(PHASES)}.json") if PHASES != ["ingest", "quality", "latency"] else OUT

    # -- ingest throughput, same texts, same run
    if "ingest" in PHASES:
        _ingest(result, texts, bundled_embedder_dir, ours, fp32, out_file)
    if "quality" in PHASES:
        _quality(result, products, queries, qrels, settings, ours, fp32, out_file)
    if "latency" in PHASES:
        _latency(result, products, queries, settings, ours, out_file)
    print("\n" + json.dumps(result, indent=2))
    if "ingest" in result:
        assert result["ingest"]["cosine_ours_vs_plain_mean"] > 0.97


def _ingest(result, texts, model_dir, ours, fp32, out_file) -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(str(model_dir), device="cpu")
    plain.encode(texts[:64])  # warm-up
    plain_vectors: list = []
    plain_s = _timed(lambda: [plain_vectors.append(plain.encode(texts[i : i + 64], batch_size=64))
                              for i in range(0, len(texts), 64)])
    ours.encode(texts[:64])
    ours_vectors = []
    ours_s = _timed(lambda: ours_vectors.append(ours.encode(texts)))
    fp32.encode(texts[:64])
    fp32_s = _timed(lambda: fp32.encode(texts))
    cosine = np.sum(np.concatenate(plain_vectors) * ours_vectors[0], axis=1)
    result["ingest"] = {
        "plain_st_texts_per_s": round(len(texts) / plain_s, 1),
        "ours_precision": ours.precision,
        "ours_sorted_texts_per_s": round(len(texts) / ours_s, 1),
        "ours_fp32_sorted_texts_per_s": round(len(texts) / fp32_s, 1),
        "speedup_vs_plain": round(plain_s / ours_s, 2),
        "speedup_fp32_sorted_vs_plain": round(plain_s / fp32_s, 2),
        "cosine_ours_vs_plain_mean": round(float(cosine.mean()), 4),
        "cosine_ours_vs_plain_min": round(float(cosine.min()), 4),
    }
    _save(result, out_file)
    print("\ningest:", json.dumps(result["ingest"]), flush=True)



def _quality(result, products, queries, qrels, settings, ours, fp32, out_file) -> None:
    """nDCG cost of our precision (int8 or bf16): full-catalog indexes (cached), default pipeline."""
    from retrieval.evaluate import evaluate_searcher
    from retrieval.search import Searcher, open_store

    quality = {}
    searchers = {}
    eval_queries, eval_products, suffix = queries, products, ""
    if QUALITY_QUERIES:
        eval_queries = dict(list(queries.items())[:QUALITY_QUERIES])
        judged = {pid for q in eval_queries for pid in qrels.get(q, {})}
        eval_products = [p for p in products if p.id in judged]
        suffix = f"-q{QUALITY_QUERIES}"
    result["quality_catalog"] = {"queries": len(eval_queries), "products": len(eval_products)}
    for name, embedder in (("ours", ours), ("fp32", fp32)):
        collection = "esci-fp32" if embedder is fp32 else f"esci-{embedder.name}"
        store = open_store(settings, CACHE, embedder, name=f"{collection}{suffix}")
        index_s = _timed(lambda store=store: store.index(eval_products))
        searchers[name] = Searcher(store, settings)
        report = evaluate_searcher(searchers[name], eval_queries, qrels, configs=("dense", "default"))
        quality[name] = {"index_s": round(index_s, 1), **report}
    result["quality"] = {
        name: {"ndcg@10": q["ndcg@10"], "recall@100": q["recall@100"], "mrr": q["mrr"],
               "configs": {c: m["ndcg@10"] for c, m in q["configs"].items()}}
        for name, q in quality.items()
    }
    result["quality"]["ours_precision"] = ours.precision
    result["quality"]["ndcg_delta_ours_minus_fp32"] = round(quality["ours"]["ndcg@10"] - quality["fp32"]["ndcg@10"], 4)
    _save(result, out_file)
    print("\nquality:", json.dumps(result["quality"]), flush=True)



def _latency(result, products, queries, settings, ours, out_file) -> None:
    """Default pipeline vs bare Chroma over the whole catalog, same queries, same run."""
    from retrieval.evaluate import percentile
    from retrieval.search import Searcher, open_store

    store = open_store(settings, CACHE, ours, name=f"esci-{ours.name}")
    store.index(products)
    searcher = Searcher(store, settings)
    texts_q = list(queries.values())
    for q in texts_q[:5]:
        searcher.search(q)
    pipeline, bare, embed_bare = [], [], []
    vectors = [ours.encode_query(q) for q in texts_q]
    for q, vec in zip(texts_q, vectors, strict=True):
        pipeline.append(_timed(lambda q=q: searcher.search(q)) * 1000)
        bare.append(_timed(lambda vec=vec: searcher.store.vectors.query(vec, 10)) * 1000)
        embed_bare.append(_timed(lambda q=q: searcher.store.vectors.query(ours.encode_query(q), 10)) * 1000)
    result["latency_ms"] = {
        "default_pipeline_p50": round(percentile(pipeline, 50), 1),
        "default_pipeline_p95": round(percentile(pipeline, 95), 1),
        "bare_chroma_query_p50": round(percentile(bare, 50), 1),
        "bare_chroma_query_p95": round(percentile(bare, 95), 1),
        "embed_plus_chroma_p50": round(percentile(embed_bare, 50), 1),
        "embed_plus_chroma_p95": round(percentile(embed_bare, 95), 1),
    }

    _save(result, out_file)
