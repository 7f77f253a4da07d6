"""The stores on a real PostgreSQL server: migrations, the outdated-schema refusal, and the races that two workers
(here: threads on separate pooled connections, i.e. separate server sessions) run into."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from assistant.config import DEMO_SHOP_DIR
from assistant.conversation.memory import SessionStore
from assistant.shop import data as shop
from assistant.shop.cart import CartLine, CartStore
from assistant.shop.feedback import FeedbackStore
from assistant.shop.orders import OrderStore
from assistant.web.auth import RateLimiter, SessionOwners
from assistant.web.keys import KeyStore
from retrieval.recs.events import Event, EventStore
from storage import Database, SchemaOutdatedError, current_revision, head_revision, upgrade

pytestmark = pytest.mark.slow  # starts a PostgreSQL server (a few seconds), once per test session


def together(work, threads: int = 8) -> list:
    """Run `work(i)` in `threads` threads released at once; their results, or the first exception."""
    barrier, results, errors = threading.Barrier(threads), [None] * threads, []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def pg(postgres_url):
    url = postgres_url("stores")
    upgrade(url)
    return url


def test_an_outdated_schema_is_refused_until_db_upgrade(postgres_url, tmp_path):
    url = postgres_url("fresh")
    with pytest.raises(SchemaOutdatedError, match="run `shopbot db upgrade`"):
        OrderStore(url)
    env = {"SHOPBOT_HOME": str(tmp_path), "SHOPBOT_DATABASE__URL": url, "PATH": "/usr/bin:/bin"}
    refused = subprocess.run([sys.executable, "-m", "assistant.cli", "serve", "--no-ui", "--lazy", "--port", "1"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]  # one line, no traceback
    assert last.endswith("run `shopbot db upgrade`.") and "none (empty)" in last and "Traceback" not in refused.stderr
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "db", "upgrade"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"upgraded from empty to {head_revision()}" in done.stdout
    assert current_revision(url) == head_revision()
    assert not (tmp_path / "shopbot.db").exists()  # nothing went to SQLite
    OrderStore(url).close()


def test_a_cancel_received_by_many_workers_at_once_happens_once(pg):
    records = shop.load_orders(DEMO_SHOP_DIR)
    workers = [OrderStore(pg) for _ in range(2)]
    assert workers[0].seed(records) == len(records) and workers[1].seed(records) == 0
    placed = next(r for r in records if r.status == "placed")
    results = together(lambda i: workers[i % 2].cancel(placed.id, placed.customer_id))
    assert [r.ok for r in results].count(True) == 1
    assert "can no longer be cancelled" in next(r.message for r in results if not r.ok)
    history = workers[1].get(placed.id, placed.customer_id).history
    assert [h["status"] for h in history].count("cancelled") == 1


def test_sessions_messages_and_claims_are_consistent_across_workers(pg):
    workers = [SessionStore(pg) for _ in range(2)]
    session = workers[0].open(None, None)

    def talk(i: int) -> None:
        for j in range(10):
            workers[i % 2].append(session, "user", f"message {i}-{j}")

    together(talk)
    turns = workers[1].history(session.id)
    assert len(turns) == 80 and len({t.content for t in turns}) == 80  # no message number taken twice
    claims = together(lambda i: workers[i % 2].open(session.id, f"C00{i}"))
    assert sum(not s.is_new for s in claims) == 1  # one customer claimed the anonymous session, the rest got new ones
    owner = next(s.user_id for s in claims if not s.is_new)
    assert workers[0].open(session.id, owner).is_new is False


def test_carts_keys_owners_feedback_on_postgres(pg):
    carts = CartStore(pg)
    line = CartLine(product_id="p1", sku="p1-9", title="Boot", quantity=15, unit_price=10.0)
    together(lambda i: carts.add("s1", line), threads=4)
    assert carts.get("s1").count == 20  # capped, whatever the interleaving
    assert carts.remove("s1", "p1-9", 5).count == 15
    keys, owners = KeyStore(pg), SessionOwners(pg)
    record, plain = keys.create("secret", name="backend")
    assert keys.verify(plain) == record and keys.revoke(record.id).revoked_at is not None
    together(lambda i: owners.claim("s9", f"key_{i}", None), threads=4)
    assert owners.owner("s9")[0].startswith("key_")
    fb = FeedbackStore(pg)
    first = fb.add(1, session_id="s1", comment="great")
    assert fb.add(-1).id == first.id + 1 and fb.list()[0].comment == "great"


def test_events_on_postgres_are_append_only_and_imported_once(pg, tmp_path):
    store = EventStore(pg)
    row = store.append(Event(type="view", user_id="u1", product_id="p1", ts=1_780_000_000.5))
    assert row >= 1 and next(store.events()).ts == 1_780_000_000.5  # double precision, not REAL
    with pytest.raises(DatabaseError, match="append-only"), Database(pg).connect() as db:
        db.execute(text("DELETE FROM events"))
    path = tmp_path / "events.jsonl"
    path.write_text("".join(f'{{"type": "view", "user_id": "u{i}", "product_id": "p1", "ts": {i}}}\n' for i in range(50)))
    imported = together(lambda i: EventStore(pg).import_jsonl(path), threads=4)
    assert sorted(imported) == [0, 0, 0, 50] and store.count() == 51
    assert store.count("u1") == 2


def test_rate_limit_counts_every_worker(pg):
    workers = [RateLimiter(per_minute=10, storage=pg) for _ in range(3)]
    waits = together(lambda i: [workers[i % 3].hit("key:k") for _ in range(3)], threads=6)
    allowed = [w for ws in waits for w in ws if w == 0.0]
    assert len(allowed) == 10  # 18 requests through three workers: exactly the limit passes
