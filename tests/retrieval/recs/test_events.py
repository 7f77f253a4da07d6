"""EventStore (real SQLite, WAL, append-only, crash-safe) and the UCI Online Retail import."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import DatabaseError

from retrieval.errors import RetrievalError
from retrieval.recs.events import Event, EventStore, read_online_retail, write_events_jsonl

REPO = Path(__file__).resolve().parents[3]


def test_append_and_read_back_in_time_order(tmp_path):
    with EventStore(tmp_path / "events.db") as store:
        store.append(Event(type="view", user_id="u1", product_id="p2", ts=20.0, session_id="s1"))
        store.append(Event(type="search", user_id="u1", ts=10.0, context="rain jacket"))
        store.append_many([Event(type="purchase", user_id="u2", product_id="p1", ts=15.0, value=2)])
        assert store.count() == 3
        assert [e.type for e in store.events()] == ["search", "purchase", "view"]
        assert [e.product_id for e in store.events(user_id="u1")] == [None, "p2"]
        assert [e.ts for e in store.events(since=12, until=20)] == [15.0]
        assert [e.type for e in store.recent("u1", limit=1)] == ["view"]
        assert store.users() == ["u1", "u2"]
        with store._db.connect() as db:
            mode = db.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = db.exec_driver_sql("PRAGMA synchronous").scalar()
    assert mode == "wal" and synchronous == 2  # FULL


def test_rows_are_append_only(tmp_path):
    with EventStore(tmp_path / "events.db") as store:
        store.append(Event(type="view", user_id="u1", product_id="p1", ts=1.0))
        for sql in ("UPDATE events SET user_id = 'x'", "DELETE FROM events"):
            with pytest.raises(DatabaseError, match="append-only"), store._db.connect() as db:
                db.exec_driver_sql(sql)
        assert store.count() == 1


def test_event_validation_names_the_problem():
    with pytest.raises(ValidationError, match="needs a 'product_id'"):
        Event(type="view", user_id="u1")
    with pytest.raises(ValidationError, match="query in 'context'"):
        Event(type="search", user_id="u1")
    with pytest.raises(ValidationError, match="between 1 and 5"):
        Event(type="rate", user_id="u1", product_id="p", value=9)
    assert Event(type="view", user_id="u", product_id="p", ts="1970-01-01T00:01:00Z").ts == 60.0


def test_jsonl_import_is_idempotent_and_names_bad_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    write_events_jsonl([Event(type="click", user_id="u", product_id=f"p{i}", ts=i) for i in range(5)], path)
    with EventStore(tmp_path / "events.db") as store:
        assert store.import_jsonl(path) == 5
        assert store.import_jsonl(path) == 0  # same bytes: skipped
        assert store.count() == 5
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"type": "view", "user_id": "u", "product_id": "p", "ts": 1}\n{"type": "fly", "user_id": "u"}\n')
        with pytest.raises(RetrievalError, match="line 2"):
            store.import_jsonl(bad)


_WRITER = """
import sys
from retrieval.recs.events import Event, EventStore
store = EventStore(sys.argv[1])
i = 0
while True:
    store.append_many([Event(type="view", user_id=f"u{j % 7}", product_id=f"p{j}", ts=1e9 + j) for j in range(i, i + 100)],
                      batch_size=100)
    i += 100
    print(i, flush=True)
"""


def test_crash_during_ingest_loses_nothing_committed(tmp_path):
    db = tmp_path / "events.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    committed = 0
    while committed < 3000:
        line = proc.stdout.readline()
        assert line, "writer died before the kill"
        committed = int(line)
    proc.kill()  # SIGKILL, mid-ingest: no cleanup, no close
    proc.wait()
    with EventStore(db) as store:
        count = store.count()
        ids = [e.product_id for e in store.events()]
    assert count >= committed  # everything reported committed is there
    assert count % 100 == 0  # and no half batch
    assert ids == [f"p{j}" for j in range(count)]


def _retail_csv(path: Path) -> Path:
    rows = [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        "C500000,22222,OLD MUG,-1,2010-12-01 08:00:00,1.0,17850,United Kingdom",  # cancels a purchase before the file
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
        "536366,71053,WHITE METAL LANTERN,2,2010-12-02 09:00:00,3.50,17850,United Kingdom",
        "536367,22633,HAND WARMER UNION JACK,6,2010-12-02 10:00:00,1.85,,United Kingdom",
        "C536370,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-6,2010-12-03 10:00:00,2.55,17850,United Kingdom",
        "C536371,71053,WHITE METAL LANTERN,-1,2010-12-03 11:00:00,3.39,17850.0,United Kingdom",
        "536372,22633,HAND WARMER UNION JACK,3,2010-12-04 10:00:00,1.95,13047,United Kingdom",
    ]
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    return path


def test_online_retail_cancellations_remove_the_cancelled_purchases(tmp_path):
    data = read_online_retail(_retail_csv(tmp_path / "retail.csv.gz"))
    bought = [(e.user_id, e.product_id, e.value) for e in data.events]
    # the heart holder was cancelled in full; one of the 2 lanterns of the latest lantern line was cancelled
    assert bought == [("17850", "71053", 6.0), ("17850", "71053", 1.0), ("13047", "22633", 3.0)]
    assert data.stats["no_customer"] == 1
    assert data.stats["cancelled_unmatched"] == 1
    assert data.stats["removed"] == 1
    products = {p.id: p for p in data.products}
    assert products["71053"].title == "White Metal Lantern"
    assert products["71053"].price == pytest.approx(3.45)  # median 3.445, rounded to pennies
    assert products["71053"].currency == "GBP"
    assert set(products) == {"22222", "85123A", "71053", "22633"}


def test_online_retail_bulk_import_into_the_store_once(tmp_path):
    path = _retail_csv(tmp_path / "retail.csv.gz")
    with EventStore(tmp_path / "events.db") as store:
        data = store.import_online_retail(path)
        store.import_online_retail(path)
        assert store.count() == len(data.events) == 3
        assert [e.value for e in store.events(user_id="17850")] == [6.0, 1.0]


def test_online_retail_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_online_retail(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(RetrievalError, match="InvoiceNo"):
        read_online_retail(bad)


@pytest.mark.slow
def test_real_online_retail_import_into_the_store(shared_data, tmp_path):
    data = read_online_retail(shared_data / "online_retail" / "online_retail.csv.gz")
    assert data.stats["rows"] == 541_909
    assert data.stats["removed"] > 1_000  # cancellations really take purchases back
    assert len(data.products) > 3_500
    assert all(e.value > 0 for e in data.events)
    with EventStore(tmp_path / "events.db") as store:
        again = store.import_online_retail(shared_data / "online_retail" / "online_retail.csv.gz")
        assert store.count() == len(data.events) == len(again.events)
        store.import_online_retail(shared_data / "online_retail" / "online_retail.csv.gz")
        assert store.count() == len(data.events)  # imported once
