"""Thumbs up/down on assistant replies, with an optional comment, kept for later fine-tuning.

Stored in the shared database (table `feedback`, `storage`); `export_jsonl` writes chat records
(`{"messages": [...], "rating": ..., "comment": ...}`) that `finetune/` can read as chat JSONL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import text

from assistant.conversation.guardrails import redact_pii
from storage import Database


class Feedback(BaseModel):
    """One stored rating."""

    id: int
    session_id: str | None
    rating: int
    comment: str
    user_message: str
    reply: str
    source: str
    created_at: float


class FeedbackStore:
    def __init__(self, db_path: Path | str):
        self.db_path = db_path  # a SQLite file or a database URL
        self._db = Database(db_path)

    def add(
        self, rating: int, session_id: str | None = None, comment: str = "", user_message: str = "", reply: str = "",
        source: str = "",
    ) -> Feedback:
        """Store a rating (+1 or -1); raises ValueError for anything else."""
        if rating not in (1, -1):
            raise ValueError(f"rating must be 1 (thumbs up) or -1 (thumbs down), got {rating!r}.")
        # stored like transcripts: emails, phone numbers, card numbers and addresses redacted
        comment, user_message, reply = (redact_pii(t) for t in (comment.strip(), user_message, reply))
        with self._db.connect() as db:
            row_id = db.execute(text(
                "INSERT INTO feedback (session_id, rating, comment, user_message, reply, source, created_at) "
                "VALUES (:session_id, :rating, :comment, :user_message, :reply, :source, :created_at) RETURNING id"),
                {"session_id": session_id, "rating": rating, "comment": comment, "user_message": user_message,
                 "reply": reply, "source": source, "created_at": time.time()},
            ).scalar_one()
        return self.get(row_id)  # type: ignore[return-value, arg-type]

    def set_comment(self, feedback_id: int, comment: str) -> Feedback:
        with self._db.connect() as db:
            changed = db.execute(text("UPDATE feedback SET comment = :comment WHERE id = :id"),
                                 {"comment": redact_pii(comment.strip()), "id": feedback_id}).rowcount
        if changed == 0:
            raise ValueError(f"No feedback with id {feedback_id}; rate a reply first.")
        return self.get(feedback_id)  # type: ignore[return-value]

    def get(self, feedback_id: int) -> Feedback | None:
        with self._db.connect() as db:
            row = db.execute(text("SELECT * FROM feedback WHERE id = :id"), {"id": feedback_id}).mappings().fetchone()
        return Feedback(**row) if row else None

    def list(self, limit: int | None = None) -> list[Feedback]:
        sql = "SELECT * FROM feedback ORDER BY id" + (" LIMIT :limit" if limit else "")
        with self._db.connect() as db:
            rows = db.execute(text(sql), {"limit": limit} if limit else {}).mappings().fetchall()
        return [Feedback(**r) for r in rows]

    def export_jsonl(self, path: Path) -> int:
        """Write every rated exchange as a chat record; returns the number written."""
        items = [f for f in self.list() if f.user_message and f.reply]
        with Path(path).open("w", encoding="utf-8") as out:
            for f in items:
                record = {
                    "messages": [{"role": "user", "content": f.user_message}, {"role": "assistant", "content": f.reply}],
                    "rating": f.rating, "comment": f.comment, "session_id": f.session_id,
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return len(items)
