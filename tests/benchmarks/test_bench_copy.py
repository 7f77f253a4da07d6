"""Batched vs one-at-a-time product copy: same run, same products, same style (target: batched >= 3x).

Prints products per minute for both and the speed-up, and writes `test-artifacts/bench/copy_<model>.json`.
Both runs use `faithfulness: drop` so each product costs exactly one generation (a regeneration pass
depends on what the first draft said, which would make the two runs do different work).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from assistant.conversation.llm import LocalChatModel
from assistant.copywriting.writer import CopyStyle, write_copy
from retrieval.catalog import Product

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "bench"


def _products(shared_data: Path, n: int) -> list[Product]:
    from retrieval.ingest import load_catalog

    products = load_catalog(shared_data / "esci_mini" / "products.jsonl").products[:n]
    return [p.model_copy(update={"description": ""}) for p in products]  # as `copy eval` does: the description hidden


def _throughput(model: LocalChatModel, products: list[Product], style: CopyStyle, batch_size: int) -> tuple[float, int]:
    start = time.perf_counter()
    records = [r for batch in write_copy(products, style, model, batch_size=batch_size) for r in batch]
    elapsed = time.perf_counter() - start
    assert [r.error for r in records] == [None] * len(products)
    return len(products) / elapsed * 60, sum(r.faithfulness.checked for r in records)


def _bench(name: str, model_dir: Path, products: list[Product], batch_size: int, max_new_tokens_style: str) -> dict:
    model = LocalChatModel(model_path=str(model_dir), temperature=0.0, threads=int(os.environ.get("OMP_NUM_THREADS", 0)) or None)
    model.load()
    style = CopyStyle(length=max_new_tokens_style, faithfulness="drop")
    list(write_copy(products[:2], style, model, batch_size=2))  # warm-up: first-call allocations
    single, _ = _throughput(model, products, style, batch_size=1)
    batched, _ = _throughput(model, products, style, batch_size=batch_size)
    result = {
        "model": name,
        "products": len(products),
        "batch_size": batch_size,
        "length": max_new_tokens_style,
        "one_at_a_time_products_per_minute": round(single, 2),
        "batched_products_per_minute": round(batched, 2),
        "speedup": round(batched / single, 2),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"copy_{name}.json").write_text(json.dumps(result, indent=2))
    print(f"\ncopy throughput ({name}): {json.dumps(result)}")
    return result


def test_bench_copy_tiny_model(tiny_llm_dir, shared_data):
    result = _bench("tiny", tiny_llm_dir, _products(shared_data, 32), batch_size=16, max_new_tokens_style="medium")
    assert result["speedup"] > 1  # sanity only: benchmarks report figures, they don't enforce them


@pytest.mark.slow
def test_bench_copy_bundled_model(bundled_llm_dir, shared_data):
    result = _bench("smollm2-135m", bundled_llm_dir, _products(shared_data, 16), batch_size=16, max_new_tokens_style="short")
    assert result["speedup"] > 1


def test_bench_copy_checker(shared_data):
    """The stricter checker (claims, makers, non-words, restatements) on real ESCI descriptions: ms per product.

    What `copy generate` pays per draft on top of generation, and what building the copy adapter's training
    examples costs per catalog record."""
    from assistant.copywriting.claims import Evidence, check_text, is_word, restatements
    from retrieval.ingest import load_catalog

    products = [p for p in load_catalog(shared_data / "esci_mini" / "products.jsonl").products if p.description][:300]
    is_word("warm")  # the word lists load once per process: not per product
    start = time.perf_counter()
    claims = 0
    for p in products:
        evidence = Evidence.of(p.model_copy(update={"description": ""}))
        claims += len(check_text(p.description, evidence))
        restatements(p.description, evidence)
    ms = (time.perf_counter() - start) / len(products) * 1000
    result = {"products": len(products), "claims": claims, "ms_per_product": round(ms, 2)}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "copy_checker.json").write_text(json.dumps(result, indent=2))
    print(f"\ncopy checker: {json.dumps(result)}")
    assert claims > 0
