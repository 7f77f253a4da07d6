"""The database layer (`storage`) and every store built on it, hammered from many threads (and from two
"workers": two store objects on one file, as `shopbot serve --workers N` runs them). Real SQLite, no mocks;
tests/storage/test_postgres.py runs the same stores on a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from assistant.config import DEMO_SHOP_DIR
from assistant.shop import data as shop
from assistant.shop.feedback import FeedbackStore
from assistant.shop.orders import OrderStore
from assistant.shop.tickets import TicketStore
from assistant.web.auth import SessionOwners
from assistant.web.keys import KeyStore
from storage import Database, current_revision, head_revision

THREADS = 12


def hammer(work: Callable[[int], None], threads: int = THREADS) -> None:
    """Run `work(i)` in `threads` threads started together; re-raise the first exception any of them hit."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # collected and re-raised below, in the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def test_database_sets_wal_busy_timeout_and_the_schema(tmp_path):
    db = Database(tmp_path / "x.db")
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "messages", "orders", "cart_lines", "tickets", "feedback", "api_keys", "api_sessions",
            "events", "imports", "rate_limits"} <= tables
    assert current_revision(tmp_path / "x.db") == head_revision()


def test_transaction_rolls_back_on_error(tmp_path):
    db = Database(tmp_path / "x.db")
    row = {"id": "a", "now": 1.0}
    with pytest.raises(IntegrityError), db.transaction() as conn:
        conn.execute(text("INSERT INTO sessions (id, created_at, updated_at) VALUES (:id, :now, :now)"), row)
        conn.execute(text("INSERT INTO sessions (id, created_at, updated_at) VALUES (:id, :now, :now)"), row)
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sessions")).scalar_one() == 0


def test_read_modify_write_is_atomic_across_threads_and_workers(tmp_path):
    workers = [Database(tmp_path / "x.db"), Database(tmp_path / "x.db")]
    with workers[0].transaction() as conn:
        conn.execute(text("INSERT INTO rate_limits (key, count, expires_at) VALUES ('n', 0, 0)"))

    def work(i: int) -> None:
        db = workers[i % 2]
        for _ in range(50):
            with db.transaction() as conn:
                n = conn.execute(text("SELECT count FROM rate_limits WHERE key = 'n'" + db.for_update)).scalar_one()
                conn.execute(text("UPDATE rate_limits SET count = :n WHERE key = 'n'"), {"n": n + 1})
            with db.connect() as conn:
                conn.execute(text("SELECT count FROM rate_limits")).fetchall()

    hammer(work)
    with workers[1].connect() as conn:
        assert conn.execute(text("SELECT count FROM rate_limits WHERE key = 'n'")).scalar_one() == THREADS * 50


def test_orders_concurrent_reads_and_one_cancel_wins(tmp_path):
    records = shop.load_orders(DEMO_SHOP_DIR)
    stores = [OrderStore(tmp_path / "shop.db"), OrderStore(tmp_path / "shop.db")]
    stores[0].seed(records)
    placed = next(r for r in records if r.status == "placed")
    wins: list[bool] = []

    def work(i: int) -> None:
        store = stores[i % 2]
        for r in records[:20]:
            assert store.get(r.id, r.customer_id) is not None
            store.for_customer(r.customer_id)
        wins.append(store.cancel(placed.id, placed.customer_id).ok)

    hammer(work)
    assert wins.count(True) == 1
    history = stores[0].get(placed.id, placed.customer_id).history
    assert [h["status"] for h in history].count("cancelled") == 1


def test_tickets_concurrent_create_and_get(tmp_path):
    store = TicketStore(tmp_path / "shop.db")
    made: list[str] = []

    def work(i: int) -> None:
        for j in range(30):
            ticket = store.create(f"s{i}", None, "talk to a human", f"summary {i} {j}")
            made.append(ticket.id)
            assert store.get(ticket.id) == ticket

    hammer(work)
    assert len(set(made)) == THREADS * 30


def test_feedback_concurrent_add_and_list(tmp_path):
    store = FeedbackStore(tmp_path / "shop.db")

    def work(i: int) -> None:
        for j in range(20):
            fb = store.add(1 if j % 2 else -1, session_id=f"s{i}", comment=f"c{i}-{j}")
            assert store.set_comment(fb.id, f"again {i}-{j}").comment == f"again {i}-{j}"
            store.list(limit=5)

    hammer(work)
    assert len(store.list()) == THREADS * 20


def test_keys_and_session_owners_concurrently(tmp_path):
    keys = KeyStore(tmp_path / "shop.db")
    owners = SessionOwners(tmp_path / "shop.db")

    def work(i: int) -> None:
        for j in range(15):
            record, plain = keys.create("secret", name=f"k{i}-{j}")
            assert keys.verify(plain) == record
            owners.claim(f"s{i}-{j}", record.id, None)
            assert owners.may_continue(f"s{i}-{j}", record.id, None)
            keys.list()

    hammer(work)
    assert len(keys.list()) == THREADS * 15
