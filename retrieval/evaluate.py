"""Search evaluation: nDCG@10 with graded gains, Recall@100 and MRR over a query set.

Judgements follow ESCI: labels E (exact), S (substitute), C (complement), I (irrelevant) with gains
E=1.0, S=0.1, C=0.01, I=0. nDCG uses those gains; Recall@100 and MRR count Exact products as relevant.
Every search is over the whole indexed catalog; unjudged products gain 0.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from retrieval.errors import CatalogError

GAINS = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}
CONFIGS = ("bm25", "dense", "hybrid", "default")


def load_queries(path: str | Path) -> dict[str, str]:
    """`qid<TAB>query` lines (a `qid` header line is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"Queries file '{path}' does not exist; pass --queries with a qid<TAB>query TSV.")
    out = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) >= 2 and row[0] != "qid":
                out[row[0]] = row[1]
    return out


def load_qrels(path: str | Path) -> dict[str, dict[str, float]]:
    """`qid, product id, label[, grade]` TSV -> {qid: {product id: gain}}; labels E/S/C/I or numeric gains."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"Qrels file '{path}' does not exist; pass --qrels with a qid<TAB>id<TAB>label TSV.")
    out: dict[str, dict[str, float]] = {}
    with path.open(encoding="utf-8") as fh:
        for line_no, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if len(row) < 3 or row[0] == "qid":
                continue
            label = row[2].strip()
            if label in GAINS:
                gain = GAINS[label]
            else:
                try:
                    gain = float(label)
                except ValueError:
                    raise CatalogError(
                        f"{path} line {line_no}: label {label!r} is not one of {list(GAINS)} or a number."
                    ) from None
            out.setdefault(row[0], {})[row[1]] = gain
    return out


def ndcg(ranked: list[str], gains: dict[str, float], k: int = 10) -> float:
    dcg = sum(gains.get(pid, 0.0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall(ranked: list[str], gains: dict[str, float], k: int = 100) -> float:
    relevant = {pid for pid, g in gains.items() if g >= GAINS["E"]}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: list[str], gains: dict[str, float]) -> float:
    for i, pid in enumerate(ranked):
        if gains.get(pid, 0.0) >= GAINS["E"]:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def evaluate_run(runs: dict[str, list[str]], qrels: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean metrics of {qid: ranked ids} over the judged queries."""
    qids = [q for q in runs if q in qrels]
    n = max(1, len(qids))
    return {
        "ndcg@10": round(sum(ndcg(runs[q], qrels[q]) for q in qids) / n, 4),
        "recall@100": round(sum(recall(runs[q], qrels[q]) for q in qids) / n, 4),
        "mrr": round(sum(reciprocal_rank(runs[q], qrels[q]) for q in qids) / n, 4),
        "queries": len(qids),
    }


def evaluate_searcher(searcher, queries: dict[str, str], qrels: dict[str, dict[str, float]],
                      configs: tuple[str, ...] = CONFIGS) -> dict:
    """Run every config over the judged queries; returns the default pipeline's metrics at top level and
    every config (with its latency p50/p95 in ms) under "configs"."""
    judged = {q: text for q, text in queries.items() if q in qrels}
    report: dict = {"configs": {}}
    for config in configs:
        runs, latencies = {}, []
        for qid, text in judged.items():
            result = searcher.search(text, k=100, mode=config)
            runs[qid] = [h.product.id for h in result.hits]
            latencies.append(result.latency_ms)
        metrics = evaluate_run(runs, qrels)
        metrics["p50_ms"] = round(percentile(latencies, 50), 1)
        metrics["p95_ms"] = round(percentile(latencies, 95), 1)
        report["configs"][config] = metrics
    if "default" in report["configs"]:
        report.update({k: report["configs"]["default"][k] for k in ("ndcg@10", "recall@100", "mrr", "queries")})
    return report
