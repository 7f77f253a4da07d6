"""The database layer on SQLite: files from before the migrations, URLs, the template fast path."""

from __future__ import annotations

import sqlite3

from assistant.conversation.memory import SessionStore
from assistant.shop.orders import OrderStore
from storage import Database, current_revision, head_revision, to_url, upgrade

OLD_SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
                       state TEXT NOT NULL DEFAULT '{}');
CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
                     record TEXT NOT NULL, updated_at TEXT NOT NULL);
INSERT INTO sessions VALUES ('s-old', 'C001', 1.0, 1.0, '{"last_order": "SB-1"}');
INSERT INTO orders VALUES ('SB-1', 'C001', 'placed', '2026-01-01', '{"id": "SB-1", "customer_id": "C001", "status": "placed",
  "created_at": "2026-01-01", "items": [], "total": 0, "history": []}', '2026-01-01');
"""


def test_a_file_from_before_the_migrations_keeps_its_rows_and_gains_the_rest(tmp_path):
    path = tmp_path / "shopbot.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    assert current_revision(path) is None
    orders = OrderStore(path)  # migrated on open
    assert current_revision(path) == head_revision()
    assert orders.cancel("SB-1", "C001").ok
    session = SessionStore(path).open("s-old", "C001")
    assert not session.is_new and session.state == {"last_order": "SB-1"}
    assert upgrade(path) == (head_revision(), head_revision())  # a second upgrade changes nothing


def test_paths_and_urls_name_the_same_file(tmp_path):
    path = tmp_path / "x.db"
    assert to_url(path) == f"sqlite:///{path}" and to_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    Database(path).close()
    with Database(to_url(path)).connect() as db:  # the URL opens the file the path created
        assert db.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
