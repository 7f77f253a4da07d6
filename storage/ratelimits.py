"""A `limits` storage on the shared database, so every worker counts into the same rate-limit windows.

`limits` ships storages for memory, Redis, Memcached, MongoDB and etcd, none for SQL; this implements its
`Storage` interface (what `FixedWindowRateLimiter` needs: incr, get, get_expiry) on table `rate_limits`. One
statement per hit: an upsert that starts a new window when the old one expired and returns the count, atomic
in SQLite and PostgreSQL alike, so two workers hitting the same key at once both count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from limits.storage import Storage
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storage.database import Database

__all__ = ["DatabaseStorage"]

_SWEEP_EVERY = 1_000  # hits between deletions of expired windows (keeps the table at about one row per active key)

_INCR = text(
    "INSERT INTO rate_limits (key, count, expires_at) VALUES (:key, :amount, :expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN rate_limits.expires_at <= :now THEN :amount ELSE rate_limits.count + :amount END, "
    "expires_at = CASE WHEN rate_limits.expires_at <= :now THEN :expires ELSE rate_limits.expires_at END "
    "RETURNING count"
)


class DatabaseStorage(Storage):
    """Fixed-window counters in the database at `target` (a SQLite path or a SQLAlchemy URL).

    `clock` (Unix seconds) is for tests; the workers' clocks should agree to a second (NTP), as every
    shared-state system assumes.
    """

    STORAGE_SCHEME = ["shopbot+database"]

    def __init__(self, target: Path | str, *, clock: Callable[[], float] = time.time, wrap_exceptions: bool = False):
        super().__init__(None, wrap_exceptions=wrap_exceptions)
        self._db = Database(target)
        self._clock = clock
        self._hits = 0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        with self._db.connect() as db:
            count = db.execute(_INCR, {"key": key, "amount": amount, "expires": now + expiry, "now": now}).scalar_one()
            self._hits += 1
            if self._hits % _SWEEP_EVERY == 0:
                db.execute(text("DELETE FROM rate_limits WHERE expires_at <= :now"), {"now": now})
        return int(count)

    def get(self, key: str) -> int:
        with self._db.connect() as db:
            count = db.execute(text("SELECT count FROM rate_limits WHERE key = :key AND expires_at > :now"),
                               {"key": key, "now": self._clock()}).scalar()
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        with self._db.connect() as db:
            expires = db.execute(text("SELECT expires_at FROM rate_limits WHERE key = :key AND expires_at > :now"),
                                 {"key": key, "now": self._clock()}).scalar()
        return float(expires) if expires is not None else self._clock()

    def check(self) -> bool:
        with self._db.connect() as db:
            db.execute(text("SELECT 1"))
        return True

    def reset(self) -> int | None:
        with self._db.connect() as db:
            return db.execute(text("DELETE FROM rate_limits")).rowcount

    def clear(self, key: str) -> None:
        with self._db.connect() as db:
            db.execute(text("DELETE FROM rate_limits WHERE key = :key"), {"key": key})

    def close(self) -> None:
        self._db.close()
