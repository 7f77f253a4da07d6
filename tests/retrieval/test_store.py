"""The Chroma store: idempotent upserts, sync deletes, reopening, a `chroma run` server, kill -9 and resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from retrieval.catalog import Product
from retrieval.config import ChromaSettings, RetrievalSettings
from retrieval.search import open_searcher, open_store

REPO = Path(__file__).resolve().parents[2]


def test_reindex_is_idempotent_and_sync_removes(settings, shopbot_home, hashing_embedder, catalog_products) -> None:
    store = open_store(settings, shopbot_home, hashing_embedder)
    first = store.index(catalog_products)
    assert (first.added, first.updated, first.unchanged, first.total) == (12, 0, 0, 12)

    again = open_store(settings, shopbot_home, hashing_embedder).index(catalog_products)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 12)

    changed = [p.model_copy(update={"price": 79.0}) if p.id == "boot-1" else p for p in catalog_products]
    without_socks = [p for p in changed if p.id != "sock-1"]
    report = store.index(without_socks)  # no --sync: nothing already indexed is lost
    assert (report.updated, report.unchanged, report.removed, report.total) == (1, 10, 0, 12)
    report = store.index(without_socks, sync=True)
    assert (report.removed, report.total) == (1, 11)
    assert store.vectors.count() == 11

    searcher = open_searcher(settings, shopbot_home, hashing_embedder)
    assert searcher.get("boot-1").price == 79.0
    assert searcher.get("sock-1") is None
    assert searcher.store.lexical.ids == sorted(p.id for p in without_socks)


def test_product_vectors_come_from_memory_and_new_ids_from_chroma(settings, shopbot_home, hashing_embedder,
                                                                  catalog_products) -> None:
    import numpy as np

    store = open_store(settings, shopbot_home, hashing_embedder)
    store.index(catalog_products[:-1])
    store.load()
    late = catalog_products[-1]
    open_store(settings, shopbot_home, hashing_embedder).index([late])  # indexed after this store loaded
    got = store.product_vectors(["boot-1", late.id, "no-such-id"])
    assert set(got) == {"boot-1", late.id}
    chroma = store.vectors.vectors(["boot-1", late.id])
    assert np.allclose(got["boot-1"], chroma["boot-1"], atol=1e-3)  # float16 in memory
    assert np.allclose(got[late.id], chroma[late.id])


def test_reopened_collection_uses_our_registered_embedding_function(settings, shopbot_home, hashing_embedder,
                                                                     catalog_products) -> None:
    from retrieval import store as store_module

    store = open_store(settings, shopbot_home, hashing_embedder)
    store.index(catalog_products)
    client = store_module._client(settings.chroma, shopbot_home / "chroma")
    reopened = client.get_collection(store.vectors.name)  # no embedding function passed: rebuilt from config
    assert reopened.configuration["embedding_function"].name() == "shopbot"
    got = reopened.query(query_texts=["waterproof hiking boot"], n_results=1)  # embeds with the rebuilt HashingEmbedder
    assert got["ids"][0][0].startswith("boot")


def test_lexical_index_is_rebuilt_when_it_does_not_match(settings, shopbot_home, hashing_embedder,
                                                          catalog_products) -> None:
    store = open_store(settings, shopbot_home, hashing_embedder)
    store.index(catalog_products)
    meta = store.lexical_dir / "meta.json"
    meta.write_text(meta.read_text().replace(store.lexical.fingerprint, "stale"))
    searcher = open_searcher(settings, shopbot_home, hashing_embedder)
    assert searcher.store.lexical.fingerprint != "stale"
    assert searcher.search("merino socks").hits[0].product.id == "sock-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path):
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited: {(tmp_path / 'chroma.log').read_text()[-2000:]}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def test_same_code_talks_to_a_chroma_server(chroma_server, shopbot_home, hashing_embedder, catalog_products) -> None:
    settings = RetrievalSettings(chroma=ChromaSettings(url=chroma_server, hnsw_construction_ef=100, hnsw_search_ef=100))
    report = open_store(settings, shopbot_home, hashing_embedder).index(catalog_products)
    assert report.added == 12
    assert open_store(settings, shopbot_home, hashing_embedder).index(catalog_products).unchanged == 12
    result = open_searcher(settings, shopbot_home, hashing_embedder).search("waterproof boots under $100")
    assert result.hits[0].product.id == "boot-1"
    assert not (shopbot_home / "chroma").exists()  # nothing embedded locally; the lexical index lives in home


_KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import retrieval.store as store_module
    from retrieval.catalog import Product
    from retrieval.config import RetrievalSettings
    from retrieval.embed import HashingEmbedder
    from retrieval.search import open_store

    class SlowEmbedder(HashingEmbedder):
        def encode(self, texts, *, progress=None):
            time.sleep(0.15)
            return super().encode(texts, progress=progress)

    store_module.BATCH = 40
    products = [Product(id=f"p{i:04d}", title=f"Product number {i} tent boot jacket", price=float(i)) for i in range(600)]
    store = open_store(RetrievalSettings(), Path(sys.argv[1]), SlowEmbedder(128))
    done = 0
    def progress(n):
        global done
        done += n
        print(f"done {done}", flush=True)
    store.index(products, progress=progress)
    print("finished", flush=True)
""")


def test_kill_minus_nine_then_rerun_resumes_without_loss_or_duplicates(tmp_path, shopbot_home) -> None:
    from retrieval.embed import HashingEmbedder

    script = tmp_path / "index_slowly.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(shopbot_home)], stdout=subprocess.PIPE, text=True, env=env)
    done = 0
    for line in proc.stdout:
        if line.startswith("done"):
            done = int(line.split()[1])
            if done >= 200:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 200 <= done < 600, "the indexer should have been killed mid-run"

    products = [Product(id=f"p{i:04d}", title=f"Product number {i} tent boot jacket", price=float(i)) for i in range(600)]
    store = open_store(RetrievalSettings(), shopbot_home, HashingEmbedder(128))
    report = store.index(products)
    assert report.unchanged >= 200  # committed batches are not redone
    assert report.added + report.unchanged == 600 and report.updated == 0
    assert store.vectors.count() == 600 and len(store.products) == 600
    assert sorted(store.lexical.ids) == [p.id for p in products]
