"""Every store's tables: sessions, messages, orders, cart lines, tickets, feedback, API keys, session owners,
behaviour events (append-only) and their imports, rate-limit counters.

A SQLite file written before the migrations existed already holds some of these tables (same columns): they
are kept as they are, and only the missing ones are created.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Time = sa.Double  # Unix seconds: a double (PostgreSQL's REAL is 4 bytes and would round to ~2 minutes)


def _tables() -> list[tuple[str, list, list]]:
    """(name, columns and constraints, [(index name, columns)])"""
    return [
        ("sessions", [
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("user_id", sa.Text),
            sa.Column("created_at", Time, nullable=False),
            sa.Column("updated_at", Time, nullable=False),
            sa.Column("state", sa.Text, nullable=False, server_default="{}"),
        ], []),
        ("messages", [
            sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id"), nullable=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("role", sa.Text, nullable=False),  # user | assistant
            sa.Column("content", sa.Text, nullable=False),  # PII-redacted
            sa.Column("intent", sa.Text),
            sa.Column("created_at", Time, nullable=False),
            sa.PrimaryKeyConstraint("session_id", "seq"),
        ], []),
        ("orders", [
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("customer_id", sa.Text, nullable=False),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.Column("record", sa.Text, nullable=False),  # the full order JSON (items, address, carrier, history)
            sa.Column("updated_at", sa.Text, nullable=False),
        ], [("orders_customer", ["customer_id"])]),
        ("cart_lines", [
            sa.Column("session_id", sa.Text, nullable=False),
            sa.Column("sku", sa.Text, nullable=False),
            sa.Column("product_id", sa.Text, nullable=False),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("size", sa.Text),
            sa.Column("colour", sa.Text),
            sa.Column("quantity", sa.Integer, sa.CheckConstraint("quantity > 0"), nullable=False),
            sa.Column("unit_price", sa.Double),
            sa.Column("currency", sa.Text, nullable=False, server_default="USD"),
            sa.Column("added_at", Time, nullable=False),
            sa.PrimaryKeyConstraint("session_id", "sku"),
        ], []),
        ("tickets", [
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("session_id", sa.Text, nullable=False),
            sa.Column("user_id", sa.Text),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("summary", sa.Text, nullable=False),  # PII-redacted transcript summary
            sa.Column("status", sa.Text, nullable=False, server_default="open"),
            sa.Column("created_at", Time, nullable=False),
        ], []),
        ("feedback", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("session_id", sa.Text),
            sa.Column("rating", sa.Integer, nullable=False),  # +1 thumbs up, -1 thumbs down
            sa.Column("comment", sa.Text, nullable=False, server_default=""),
            sa.Column("user_message", sa.Text, nullable=False, server_default=""),
            sa.Column("reply", sa.Text, nullable=False, server_default=""),
            sa.Column("source", sa.Text, nullable=False, server_default=""),  # 'ui', 'api:<key id>'
            sa.Column("created_at", Time, nullable=False),
        ], []),
        ("api_keys", [
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("name", sa.Text, nullable=False, server_default=""),
            sa.Column("prefix", sa.Text, nullable=False),
            sa.Column("key_hash", sa.Text, nullable=False, unique=True),
            sa.Column("origins", sa.Text, nullable=False, server_default="[]"),
            sa.Column("created_at", Time, nullable=False),
            sa.Column("revoked_at", Time),
        ], []),
        ("api_sessions", [
            sa.Column("session_id", sa.Text, primary_key=True),
            sa.Column("key_id", sa.Text, nullable=False),
            sa.Column("user_id", sa.Text),
            sa.Column("created_at", Time, nullable=False),
        ], []),
        ("events", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("type", sa.Text, nullable=False),
            sa.Column("user_id", sa.Text, nullable=False),
            sa.Column("product_id", sa.Text),
            sa.Column("ts", Time, nullable=False),
            sa.Column("session_id", sa.Text),
            sa.Column("context", sa.Text),
            sa.Column("value", sa.Double),
        ], [("events_user_ts", ["user_id", "ts"]), ("events_ts", ["ts"])]),
        ("imports", [
            sa.Column("digest", sa.Text, primary_key=True),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("events", sa.Integer, nullable=False),
            sa.Column("imported_at", Time, nullable=False),
        ], []),
        ("rate_limits", [
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Column("expires_at", Time, nullable=False),  # Unix seconds; the window's counter is void after it
        ], [("rate_limits_expires", ["expires_at"])]),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns, indexes in _tables():
        if name not in existing:
            op.create_table(name, *columns)
        have = {i["name"] for i in inspector.get_indexes(name)} if name in existing else set()
        for index, cols in indexes:
            if index not in have:
                op.create_index(index, name, cols)
    # Events are append-only: the database itself refuses UPDATE and DELETE.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS events_no_{verb} BEFORE {verb.upper()} ON events "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
            )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'events are append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute("CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events "
                   "FOR EACH ROW EXECUTE FUNCTION events_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS events_append_only() CASCADE")
    for name, _, _ in reversed(_tables()):
        op.drop_table(name)
