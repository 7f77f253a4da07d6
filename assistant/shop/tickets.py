"""Hand-off tickets: a support ticket (SQLite) with the reason and a PII-redacted transcript summary."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from assistant.conversation.guardrails import redact_pii

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id TEXT,
    reason TEXT NOT NULL,
    summary TEXT NOT NULL,         -- PII-redacted transcript summary
    status TEXT NOT NULL DEFAULT 'open',
    created_at REAL NOT NULL
);
"""


class Ticket(BaseModel):
    id: str
    session_id: str
    user_id: str | None
    reason: str
    summary: str
    status: str
    created_at: float


class TicketStore:
    """Support tickets in the assistant's SQLite file."""

    def __init__(self, db_path: Path):
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def create(self, session_id: str, user_id: str | None, reason: str, summary: str) -> Ticket:
        ticket = Ticket(
            id="T-" + secrets.token_hex(4).upper(), session_id=session_id, user_id=user_id, reason=reason[:200],
            summary=redact_pii(summary)[:4000], status="open", created_at=time.time(),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ticket.id, ticket.session_id, ticket.user_id, ticket.reason, ticket.summary, ticket.status, ticket.created_at),
            )
        logger.info("handoff ticket %s for session %s", ticket.id, session_id)
        return ticket

    def get(self, ticket_id: str) -> Ticket | None:
        row = self._db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return Ticket(**dict(zip(Ticket.model_fields, row, strict=True))) if row else None
