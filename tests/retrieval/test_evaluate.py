"""Search metrics, `shopbot eval search` and the ESCI integration evaluation on a slice."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrieval.evaluate import evaluate_run, load_qrels, ndcg, recall, reciprocal_rank


def test_metrics_by_hand() -> None:
    gains = {"a": 1.0, "b": 0.1, "c": 0.01, "d": 0.0}
    assert ndcg(["a", "b", "c"], gains) == pytest.approx(1.0)
    expected = (0.1 + 1.0 / math.log2(3)) / (1.0 + 0.1 / math.log2(3) + 0.01 / 2)
    assert ndcg(["b", "a", "x"], gains) == pytest.approx(expected)
    assert recall(["x", "a"], gains, k=1) == 0.0 and recall(["x", "a"], gains) == 1.0
    assert reciprocal_rank(["x", "b", "a"], gains) == pytest.approx(1 / 3)
    metrics = evaluate_run({"q1": ["a"], "q2": ["x"], "unjudged": ["a"]}, {"q1": gains, "q2": {"y": 1.0}})
    assert metrics == {"ndcg@10": pytest.approx(0.5 / (1.0 + 0.1 / math.log2(3) + 0.01 / 2), abs=1e-4), "recall@100": 0.5, "mrr": 0.5, "queries": 2}


def test_qrels_labels(tmp_path: Path) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text("qid\tasin\tesci_label\tgrade\nq1\tA\tE\t3\nq1\tB\tS\t2\nq2\tC\t0.5\t1\n")
    assert load_qrels(path) == {"q1": {"A": 1.0, "B": 0.1}, "q2": {"C": 0.5}}
    path.write_text("q1\tA\tX\n")
    with pytest.raises(Exception, match="line 1: label 'X'"):
        load_qrels(path)


def _cli_env(monkeypatch, tiny_embedder_dir: Path) -> None:
    monkeypatch.setenv("SHOPBOT_RETRIEVAL__EMBEDDING_MODEL", str(tiny_embedder_dir))
    monkeypatch.setenv("SHOPBOT_RETRIEVAL__CHROMA__HNSW_CONSTRUCTION_EF", "64")


def test_cli_index_search_and_eval(tmp_path, monkeypatch, tiny_embedder_dir, catalog_file, shopbot_home) -> None:
    from assistant.cli import app

    _cli_env(monkeypatch, tiny_embedder_dir)
    runner = CliRunner()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(catalog_file.read_text() + '{"id": "x", "title": "Bad", "price": "lots"}\n')
    out = runner.invoke(app, ["index", "--catalog", str(bad)])
    assert out.exit_code == 0, out.output
    assert "added 12, updated 0, unchanged 0, removed 0, rejected 1" in out.output
    assert (shopbot_home / "rejects" / "bad.rejects.jsonl").is_file()
    out = runner.invoke(app, ["index", "--catalog", str(catalog_file), "--sync"])
    assert "added 0, updated 0, unchanged 12, removed 0, rejected 0" in out.output, out.output

    out = runner.invoke(app, ["search", "merino socks under $20", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["filters"] == {"price_max": 20.0, "currency": "USD", "categories": ["Socks"]}
    assert data["hits"][0]["id"] == "sock-1" and data["hits"][0]["why"]
    out = runner.invoke(app, ["search", "stormshell rain jacket"])
    assert "jacket-1" in [line for line in out.stdout.splitlines() if line.startswith(" 1.")][0] and "why:" in out.output
    out = runner.invoke(app, ["search", "jacket without down", "--json"])
    assert json.loads(out.stdout)["excluded"] == ["down"]
    out = runner.invoke(app, ["search", "jacket without down"])
    assert "excluding down" in out.output, out.output

    queries = tmp_path / "queries.tsv"
    queries.write_text("qid\tquery\nq1\tmerino socks\nq2\tbackpacking tent\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("qid\tasin\tesci_label\tgrade\nq1\tsock-1\tE\t3\nq2\ttent-1\tE\t3\nq2\ttent-2\tS\t2\n")
    out = runner.invoke(app, ["eval", "search", "--catalog", str(catalog_file), "--queries", str(queries),
                              "--qrels", str(qrels), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert set(report["configs"]) == {"bm25", "dense", "hybrid", "default"}
    assert report["ndcg@10"] == report["configs"]["default"]["ndcg@10"] and report["queries"] == 2
    assert report["mrr"] == 1.0


def test_cli_index_missing_catalog_is_one_line(tmp_path, monkeypatch, tiny_embedder_dir, capsys) -> None:
    import sys

    from assistant.cli import main

    _cli_env(monkeypatch, tiny_embedder_dir)
    monkeypatch.setattr(sys, "argv", ["shopbot", "index", "--catalog", str(tmp_path / "missing.jsonl")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_esci_slice_default_pipeline_beats_bm25(shared_data, bundled_embedder_dir, shopbot_home) -> None:
    """Integration: real MiniLM, real Chroma and bm25 on the products judged for 10 ESCI queries."""
    from retrieval.config import RetrievalSettings
    from retrieval.embed import Embedder
    from retrieval.evaluate import evaluate_searcher, load_queries
    from retrieval.ingest import load_catalog
    from retrieval.search import Searcher, open_store

    esci = shared_data / "esci_mini"
    queries = dict(list(load_queries(esci / "queries.tsv").items())[:10])
    qrels = {q: g for q, g in load_qrels(esci / "qrels.tsv").items() if q in queries}
    judged = {pid for gains in qrels.values() for pid in gains}
    products = [p for p in load_catalog(esci / "products.jsonl").products if p.id in judged]
    store = open_store(RetrievalSettings(), shopbot_home, Embedder(bundled_embedder_dir), name="esci-slice")
    store.index(products)
    report = evaluate_searcher(Searcher(store, RetrievalSettings()), queries, qrels)
    configs = report["configs"]
    assert report["queries"] == 10
    assert configs["default"]["ndcg@10"] >= configs["bm25"]["ndcg@10"] - 0.02
    assert configs["default"]["ndcg@10"] > 0.5


def test_cli_index_without_catalog_indexes_the_shop_and_its_policies(monkeypatch, tiny_embedder_dir, shopbot_home) -> None:
    from assistant.cli import app
    from retrieval.config import RetrievalSettings
    from retrieval.documents import open_documents
    from retrieval.embed import Embedder

    _cli_env(monkeypatch, tiny_embedder_dir)
    out = CliRunner().invoke(app, ["index"])
    assert out.exit_code == 0, out.output
    assert "catalog.jsonl: added" in out.stdout and "rejected 0" in out.stdout
    assert "documents" in out.stdout and "passages indexed" in out.stdout
    docs = open_documents(RetrievalSettings(), shopbot_home, Embedder(tiny_embedder_dir))
    assert len({c.doc_id for c in docs.chunks.values()}) >= 10
