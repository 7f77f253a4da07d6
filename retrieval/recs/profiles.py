"""Real-time shopper profiles: a time-decayed, event-weighted mix of the embeddings of what they touched.

Each profile keeps a long-term sum `S = sum_e w_e * 2^(-(t_ref - t_e)/half_life) * v_e` together with its
reference time; a new event decays the sum to its own time and adds its vector, so an update is O(1) in
the history length (O(dim) arithmetic). A second, short-term sum with a half-life of minutes follows the
current session and is reset when the session id changes. The last few touched items are kept for reasons.
`ProfileStore` persists profiles in SQLite (one upsert per event) and caches them in memory.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.config import RecsSettings

logger = logging.getLogger(__name__)

# How much each kind of event says about interest. A 1-2 star rating pushes the profile away.
EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "click": 1.5, "search": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
RATING_WEIGHTS: dict[int, float] = {1: -3.0, 2: -1.5, 3: 0.5, 4: 3.0, 5: 4.0}
RECENT_ITEMS = 20  # touched items remembered for reasons


def event_weight(kind: str, value: float | None = None) -> float:
    """Interest weight of one event ('rate' uses its stars)."""
    if kind == "rate":
        return RATING_WEIGHTS[max(1, min(5, round(value or 3)))]
    return EVENT_WEIGHTS[kind]


def _decay(dt_seconds: float, half_life_seconds: float) -> float:
    return math.pow(0.5, max(dt_seconds, 0.0) / half_life_seconds)


@dataclass
class Profile:
    """One shopper's interest state. Vectors are unnormalised decayed sums, shape (dim,)."""

    user_id: str
    long_vec: np.ndarray
    long_weight: float = 0.0
    long_ts: float = 0.0
    session_id: str | None = None
    session_vec: np.ndarray | None = None
    session_weight: float = 0.0
    session_ts: float = 0.0
    events: int = 0
    # (product_id or None, event type, ts, search query or None), newest last
    recent: list[tuple[str | None, str, float, str | None]] = field(default_factory=list)

    @classmethod
    def empty(cls, user_id: str, dim: int) -> Profile:
        return cls(user_id=user_id, long_vec=np.zeros(dim, dtype=np.float32))

    def update(
        self,
        kind: str,
        ts: float,
        vector: np.ndarray | None,
        settings: RecsSettings,
        *,
        product_id: str | None = None,
        session_id: str | None = None,
        value: float | None = None,
        query: str | None = None,
    ) -> None:
        """Fold one event in, O(dim). `vector` is the item's (or the query's) unit embedding, or None."""
        self.events += 1
        self.recent.append((product_id, kind, ts, query))
        del self.recent[:-RECENT_ITEMS]
        if vector is None:
            return
        w = event_weight(kind, value)
        if kind == "purchase" and value is not None and value < 0:
            w = -w  # a negated purchase (cancellation) takes its interest back
        long_hl = settings.half_life_days * 86_400.0
        if ts >= self.long_ts:
            d = _decay(ts - self.long_ts, long_hl)
            self.long_vec = self.long_vec * d + w * vector
            self.long_weight = self.long_weight * d + w
            self.long_ts = ts
        else:  # a late event: age it instead of the sum
            d = _decay(self.long_ts - ts, long_hl)
            self.long_vec = self.long_vec + (w * d) * vector
            self.long_weight += w * d
        if session_id is not None and session_id != self.session_id:
            self.session_id, self.session_vec, self.session_weight, self.session_ts = session_id, None, 0.0, ts
        short_hl = settings.session_half_life_minutes * 60.0
        d = _decay(ts - self.session_ts, short_hl)
        base = self.session_vec if self.session_vec is not None else np.zeros_like(vector)
        self.session_vec = base * d + w * vector
        self.session_weight = self.session_weight * d + w
        self.session_ts = max(ts, self.session_ts)

    def vector(self, now: float, settings: RecsSettings) -> np.ndarray | None:
        """Unit interest vector at `now`: long-term direction blended with the live session, or None."""
        parts = []
        long_norm = float(np.linalg.norm(self.long_vec))
        if long_norm > 1e-9 and self.long_weight > 0:
            parts.append((1.0, self.long_vec / long_norm))
        if self.session_vec is not None:
            live = self.session_weight * _decay(now - self.session_ts, settings.session_half_life_minutes * 60.0)
            norm = float(np.linalg.norm(self.session_vec))
            if live > 0.05 and norm > 1e-9:
                # A live session counts as much as the whole history once it holds a few strong events.
                parts.append((min(live / 3.0, 1.0), self.session_vec / norm))
        if not parts:
            return None
        mix = sum(w * v for w, v in parts)
        norm = float(np.linalg.norm(mix))
        return (mix / norm).astype(np.float32) if norm > 1e-9 else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    user_id TEXT PRIMARY KEY,
    dim INTEGER NOT NULL,
    long_vec BLOB NOT NULL,
    long_weight REAL NOT NULL,
    long_ts REAL NOT NULL,
    session_id TEXT,
    session_vec BLOB,
    session_weight REAL NOT NULL,
    session_ts REAL NOT NULL,
    events INTEGER NOT NULL,
    recent TEXT NOT NULL
);
"""


class ProfileStore:
    """Profiles of one embedding space (`dim`), persisted in SQLite and cached in memory."""

    def __init__(self, path: Path | str, dim: int, settings: RecsSettings) -> None:
        self.path = Path(path)
        self.dim = dim
        self.settings = settings
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: survives a process crash; a power cut may lose the last updates, which the event log rebuilds.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._cache: dict[str, Profile] = {}
        self._updating = threading.Lock()  # read-modify-write of one profile must not interleave

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get(self, user_id: str) -> Profile | None:
        """The stored profile, or None when the user has none (or one from another embedding space)."""
        with self._lock:
            if user_id in self._cache:
                return self._cache[user_id]
            row = self._db.execute("SELECT * FROM profiles WHERE user_id=?", (user_id,)).fetchone()
        if row is None or row[1] != self.dim:
            return None
        profile = Profile(
            user_id=row[0],
            long_vec=np.frombuffer(row[2], dtype=np.float32).copy(),
            long_weight=row[3],
            long_ts=row[4],
            session_id=row[5],
            session_vec=None if row[6] is None else np.frombuffer(row[6], dtype=np.float32).copy(),
            session_weight=row[7],
            session_ts=row[8],
            events=row[9],
            recent=[tuple(r) for r in json.loads(row[10])],
        )
        with self._lock:
            self._cache[user_id] = profile
        return profile

    def save(self, profile: Profile) -> None:
        session = None if profile.session_vec is None else profile.session_vec.astype(np.float32).tobytes()
        with self._lock:
            self._cache[profile.user_id] = profile
            self._db.execute(
                "INSERT OR REPLACE INTO profiles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    profile.user_id, self.dim, profile.long_vec.astype(np.float32).tobytes(), profile.long_weight,
                    profile.long_ts, profile.session_id, session, profile.session_weight, profile.session_ts,
                    profile.events, json.dumps(profile.recent),
                ),
            )

    def update(
        self,
        user_id: str,
        kind: str,
        ts: float,
        vector: np.ndarray | None,
        *,
        product_id: str | None = None,
        session_id: str | None = None,
        value: float | None = None,
        query: str | None = None,
    ) -> Profile:
        """Fold one event into the user's profile and persist it (one row write)."""
        with self._updating:
            profile = self.get(user_id) or Profile.empty(user_id, self.dim)
            profile.update(
                kind, ts, vector, self.settings, product_id=product_id, session_id=session_id, value=value, query=query
            )
            self.save(profile)
        return profile

    def delete_all(self) -> None:
        """Forget every profile (before a rebuild from the event log)."""
        with self._lock:
            self._cache.clear()
            self._db.execute("DELETE FROM profiles")
