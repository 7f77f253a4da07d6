"""Hand-off tickets: a support ticket (in the shared database, `storage`) with the reason and a PII-redacted transcript summary."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import text

from assistant.conversation.guardrails import redact_pii
from storage import Database

logger = logging.getLogger(__name__)



class Ticket(BaseModel):
    id: str
    session_id: str
    user_id: str | None
    reason: str
    summary: str
    status: str
    created_at: float


class TicketStore:
    """Support tickets in the shared database (`db_path`: a SQLite file or a database URL)."""

    def __init__(self, db_path: Path | str):
        self._db = Database(db_path)

    def create(self, session_id: str, user_id: str | None, reason: str, summary: str) -> Ticket:
        ticket = Ticket(
            id="T-" + secrets.token_hex(4).upper(), session_id=session_id, user_id=user_id, reason=reason[:200],
            summary=redact_pii(summary)[:4000], status="open", created_at=time.time(),
        )
        with self._db.connect() as db:
            db.execute(text(
                "INSERT INTO tickets (id, session_id, user_id, reason, summary, status, created_at) "
                "VALUES (:id, :session_id, :user_id, :reason, :summary, :status, :created_at)"), ticket.model_dump())
        logger.info("handoff ticket %s for session %s", ticket.id, session_id)
        return ticket

    def get(self, ticket_id: str) -> Ticket | None:
        with self._db.connect() as db:
            row = db.execute(text("SELECT * FROM tickets WHERE id = :id"), {"id": ticket_id}).mappings().fetchone()
        return Ticket(**row) if row else None
