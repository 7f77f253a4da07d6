"""The one way the assistant's stores open the SQLite file (sessions, orders, tickets, feedback, keys, owners).

Each store holds one `Database`: one connection (WAL, busy timeout, `sqlite3.Row` rows) shared by the store's
threads, and a lock that every read and write holds:

* `locked()` - the lock, for statements that stand alone (one SELECT, one INSERT); fetch inside the block.
* `transaction()` - the lock *and* `BEGIN IMMEDIATE ... COMMIT` (ROLLBACK when the block raises), for
  read-modify-write sequences: claim an anonymous session, number the next message, cancel a placed order.

Why this shape, for threaded servers run as several worker processes (docs/scale-out.md):

* A `sqlite3.Connection` may be used from several threads (`check_same_thread=False`) only if its users
  serialise access themselves (Python docs: "write operations may need to be serialized by the user"); the
  lock does that, and makes each store call one unit within the process.
* Threads of one process are not the only writers: every worker opens the same file. A Python lock cannot
  see the other workers, so a read-then-write (`SELECT MAX(seq)` then `INSERT`) raced there: duplicate
  message numbers, two customers claiming one anonymous session, an order cancelled twice. `BEGIN IMMEDIATE`
  takes SQLite's write lock before the read; another worker waits for it (busy timeout) instead of failing.
* One connection per store rather than one per call: the PRAGMAs run once, and an API request (key check,
  session owner, history) pays no connect. Reads are sub-millisecond next to a turn's model call, so
  serialising them within the process costs nothing measurable; WAL keeps other workers' reads unblocked.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_S", "Database"]

BUSY_TIMEOUT_S = 30.0  # how long a write waits for another worker's write lock before "database is locked"


class Database:
    """One connection to the SQLite file at `path`, created with `schema` (idempotent DDL), safe to share
    between threads through `locked()` and `transaction()`."""

    def __init__(self, path: Path | str, schema: str = ""):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, so statements outside `transaction()` never leave one open
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._conn.row_factory = sqlite3.Row  # by name or by index, and unpacks like a tuple
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()  # re-entrant: a transaction may call a helper that reads
        if schema:
            with self._lock:
                self._conn.executescript(schema)

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, with the lock held; for single statements. Fetch rows inside the block."""
        with self._lock:
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside `BEGIN IMMEDIATE`; commits at the end, rolls back if the block raises.

        A transaction opened inside another (same thread) joins the outer one.
        """
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
