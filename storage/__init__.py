"""The shared database layer: one SQLAlchemy engine per database URL, Alembic migrations, a `limits` storage.

A leaf package (it imports nothing of the project), so both `assistant` (sessions, orders, keys...) and
`retrieval` (behaviour events) keep their state in the same database.
"""

from storage.database import (
    BUSY_TIMEOUT_S,
    Database,
    SchemaOutdatedError,
    current_revision,
    head_revision,
    to_url,
    upgrade,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "Database",
    "SchemaOutdatedError",
    "current_revision",
    "head_revision",
    "to_url",
    "upgrade",
]
