"""Conversation memory: per-session history and state in the shared database (`storage`), so a session survives restarts.

Session ids come from `secrets.token_urlsafe(16)`. An unknown id, or an id that belongs to another
signed-in customer, starts a fresh session: history is never shown across sessions. Stored messages are
PII-redacted. The state keeps what later turns refer to: the last shown products, the last order
discussed and an action awaiting confirmation. Long histories are windowed; older turns are folded into
a short extractive summary.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from assistant.conversation.guardrails import redact_pii
from storage import Database
from text import split_sentences

logger = logging.getLogger(__name__)



@dataclass
class Turn:
    role: str
    content: str
    intent: str | None = None


@dataclass
class Session:
    """One conversation as the engine sees it during a turn."""

    id: str
    user_id: str | None
    is_new: bool
    state: dict = field(default_factory=dict)  # last_products, last_order, pending, ...

    @property
    def last_products(self) -> list[str]:
        return list(self.state.get("last_products", []))


class SessionStore:
    """Sessions and their messages in the shared database, so any worker continues any session.

    `db_path`: a SQLite file or a database URL (`storage.Database`).
    """

    def __init__(self, db_path: Path | str, *, window: int = 8):
        self.db_path = db_path
        self.window = window  # turns (messages) given to the model verbatim
        self._db = Database(db_path)

    def open(self, session_id: str | None, user_id: str | None) -> Session:
        """Resume `session_id` when it exists and belongs to this user; otherwise start a new session."""
        if session_id:
            # one transaction, the row locked: two customers presenting the same anonymous id at once must not both claim it
            with self._db.transaction() as db:
                row = db.execute(text("SELECT user_id, state FROM sessions WHERE id = :id" + self._db.for_update),
                                 {"id": session_id}).fetchone()
                owner, state = row if row is not None else (None, None)
                # A session started anonymously may be continued after sign-in; never someone else's.
                if row is not None and (owner is None or owner == user_id):
                    if owner is None and user_id:
                        db.execute(text("UPDATE sessions SET user_id = :user WHERE id = :id"), {"user": user_id, "id": session_id})
                    return Session(session_id, user_id, False, json.loads(state))
            if row is not None:
                logger.info("session id of another customer presented; starting a new session")
        new_id = secrets.token_urlsafe(16)
        now = time.time()
        with self._db.connect() as db:
            db.execute(text("INSERT INTO sessions (id, user_id, created_at, updated_at) VALUES (:id, :user, :now, :now)"),
                       {"id": new_id, "user": user_id, "now": now})
        return Session(new_id, user_id, True, {})

    def append(self, session: Session, role: str, content: str, intent: str | None = None) -> None:
        """Store one message (redacted)."""
        content = redact_pii(content)
        now = time.time()
        with self._db.transaction() as db:  # the next seq and the insert as one unit, across workers too
            # the UPDATE first: it locks the session's row, so a second append waits and then sees this seq
            db.execute(text("UPDATE sessions SET updated_at = :now WHERE id = :id"), {"now": now, "id": session.id})
            seq = db.execute(text("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = :id"),
                             {"id": session.id}).scalar_one()
            db.execute(text("INSERT INTO messages (session_id, seq, role, content, intent, created_at) "
                            "VALUES (:id, :seq, :role, :content, :intent, :now)"),
                       {"id": session.id, "seq": seq, "role": role, "content": content, "intent": intent, "now": now})

    def save_state(self, session: Session) -> None:
        with self._db.connect() as db:
            db.execute(text("UPDATE sessions SET state = :state WHERE id = :id"),
                       {"state": json.dumps(session.state), "id": session.id})

    def history(self, session_id: str) -> list[Turn]:
        """Every stored message of the session, oldest first."""
        with self._db.connect() as db:
            rows = db.execute(
                text("SELECT role, content, intent FROM messages WHERE session_id = :id ORDER BY seq"), {"id": session_id}
            ).fetchall()
        return [Turn(*r) for r in rows]

    def context(self, session_id: str) -> tuple[str, list[Turn]]:
        """(summary of older turns, the last `window` messages) for the prompt."""
        turns = self.history(session_id)
        recent, older = turns[-self.window :], turns[: -self.window] if len(turns) > self.window else []
        return summarise(older), recent

    def close(self) -> None:
        self._db.close()


def summarise(turns: list[Turn], max_items: int = 6) -> str:
    """Extractive summary: what the customer asked about (first sentence of each user turn), plus intents."""
    points = []
    for t in turns:
        if t.role != "user":
            continue
        first = (split_sentences(t.content) or [""])[0][:120]
        points.append(f"- {first}" + (f" ({t.intent})" if t.intent else ""))
    if not points:
        return ""
    return "Earlier in this conversation the customer asked:\n" + "\n".join(points[-max_items:])
