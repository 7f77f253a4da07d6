"""Hand-off tickets: a support ticket (SQLite) with the reason and a PII-redacted transcript summary."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from pydantic import BaseModel

from assistant.conversation.guardrails import redact_pii
from assistant.shop.db import Database

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
        self._db = Database(db_path, _SCHEMA)

    def create(self, session_id: str, user_id: str | None, reason: str, summary: str) -> Ticket:
        ticket = Ticket(
            id="T-" + secrets.token_hex(4).upper(), session_id=session_id, user_id=user_id, reason=reason[:200],
            summary=redact_pii(summary)[:4000], status="open", created_at=time.time(),
        )
        with self._db.locked() as db:
            db.execute(
                "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ticket.id, ticket.session_id, ticket.user_id, ticket.reason, ticket.summary, ticket.status, ticket.created_at),
            )
        logger.info("handoff ticket %s for session %s", ticket.id, session_id)
        return ticket

    def get(self, ticket_id: str) -> Ticket | None:
        with self._db.locked() as db:
            row = db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return Ticket(**dict(row)) if row else None
