"""The one way Shopbot's stores reach their database: SQLite (the embedded default) or PostgreSQL.

`Database(target)` takes a SQLite file path or a SQLAlchemy URL (`postgresql+psycopg://user:pw@host/db`) and
hands out connections of one engine per URL and process (so a worker's seven stores share one pool):

* `connect()` - a connection in a plain transaction, committed at the end: single statements, reads.
* `transaction()` - a connection for read-modify-write sequences (claim a session, number the next message,
  cancel a placed order). On SQLite it opens with `BEGIN IMMEDIATE`, which takes the file's write lock before
  the first read, so another worker waits (busy timeout) instead of racing; on PostgreSQL the stores lock the
  rows they change (`for_update`, i.e. `SELECT ... FOR UPDATE`) or make the update conditional
  (`UPDATE ... WHERE status = 'placed'`), so two workers handling the same request change the row once.

The schema comes from the Alembic migrations shipped in `storage/migrations`. A SQLite file is brought to
the newest schema when it is opened (an embedded install has one process that owns its file, and `make demo`
needs no step); a PostgreSQL database is shared by many workers and is only upgraded by `shopbot db upgrade`:
opening an outdated one raises `SchemaOutdatedError` naming that command.

Why SQLite still works for several workers on one machine: WAL keeps readers unblocked while one writes, and
`BEGIN IMMEDIATE` serialises the writers; only machines that cannot share a file need the server.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

logger = logging.getLogger(__name__)

__all__ = ["BUSY_TIMEOUT_S", "Database", "SchemaOutdatedError", "current_revision", "head_revision", "to_url", "upgrade"]

BUSY_TIMEOUT_S = 30.0  # how long a SQLite write waits for another worker's write lock before "database is locked"
MIGRATIONS = Path(__file__).parent / "migrations"
_UPGRADE_LOCK_ID = 7_180_218  # pg_advisory_xact_lock key: two `shopbot db upgrade` at once run one after the other


class SchemaOutdatedError(RuntimeError):
    """The database's schema is not the one this version of Shopbot needs."""


def to_url(target: Path | str) -> str:
    """A SQLAlchemy URL for `target`: URLs pass through, a file path becomes `sqlite:////absolute/path`."""
    value = str(target)
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------- engines, shared per URL within a process

_engines: dict[str, list] = {}  # url -> [engine, users]
_checked: set[str] = set()  # urls whose schema was found (or brought) current in this process
_guard = threading.RLock()


def _create_engine(url: str, synchronous: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        # pre_ping: a worker survives the database restarting (or a proxy dropping idle connections)
        return create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # The driver's own transaction handling is off; `_on_begin` emits BEGIN (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _acquire(url: str, synchronous: str) -> Engine:
    with _guard:
        entry = _engines.get(url)
        if entry is None:
            entry = _engines[url] = [_create_engine(url, synchronous), 0]
        entry[1] += 1
        return entry[0]


def _release(url: str) -> None:
    with _guard:
        entry = _engines.get(url)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            entry[0].dispose()
            del _engines[url]
            _checked.discard(url)  # a file may be deleted and recreated (tests): check it again next time


# ---------------------------------------------------------------- migrations


def _alembic_config(connection: Connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration shipped with this version."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    return script.get_current_head()


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def current_revision(target: Path | str) -> str | None:
    """The migration the database at `target` is at (None: no Shopbot schema yet)."""
    url = to_url(target)
    engine = _acquire(url, "NORMAL")
    try:
        with engine.connect() as connection:
            return _revision(connection)
    finally:
        _release(url)


def upgrade(target: Path | str, revision: str = "head") -> tuple[str | None, str]:
    """Run the migrations up to `revision` on the database at `target`; returns (revision before, after).

    Safe when several processes run it at once: SQLite holds its write lock, PostgreSQL an advisory lock, for
    the whole upgrade, and whoever comes second finds the work done.
    """
    from alembic import command

    url = to_url(target)
    engine = _acquire(url, "NORMAL")
    try:
        with engine.connect() as connection:
            connection.execution_options(immediate=True)
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _UPGRADE_LOCK_ID})
                before = _revision(connection)
                command.upgrade(_alembic_config(connection), revision)
                after = _revision(connection)
        if before != after:
            logger.info("database %s upgraded from %s to %s", safe_url(url), before, after)
        with _guard:
            _checked.discard(url)
        return before, after or ""
    finally:
        _release(url)


def _ensure_schema(url: str, engine: Engine, auto_upgrade: bool) -> None:
    if url in _checked:
        return
    with engine.connect() as connection:
        current = _revision(connection)
    head = head_revision()
    if current != head:
        if not auto_upgrade:
            raise SchemaOutdatedError(
                f"The database {safe_url(url)} is at schema {current or 'none (empty)'}, this Shopbot needs {head}; "
                "run `shopbot db upgrade`."
            )
        upgrade(url)
    with _guard:
        _checked.add(url)


_template: list[Path] = []  # a fresh SQLite file at the head schema, made once per process


def _create_from_template(database: Path) -> None:
    """Create a missing SQLite file as a copy of a freshly migrated one: ~1 ms instead of running every migration
    (tests open hundreds of fresh files). os.link makes it atomic: of two workers starting at once, one wins."""
    import os
    import shutil
    import tempfile

    with _guard:
        if not _template:
            folder = Path(tempfile.mkdtemp(prefix="shopbot-schema-"))
            upgrade(folder / "template.db")
            _template.append(folder / "template.db")
    database.parent.mkdir(parents=True, exist_ok=True)
    tmp = database.with_name(f".{database.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    shutil.copyfile(_template[0], tmp)
    try:
        os.link(tmp, database)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


# ---------------------------------------------------------------- the handle the stores hold


class Database:
    """The database at `target` (a SQLite path or a SQLAlchemy URL), with its schema checked.

    Args:
        target: `Path("~/.shopbot/shopbot.db")`, `"sqlite:////abs/file.db"` or `"postgresql+psycopg://..."`.
        synchronous: SQLite's PRAGMA synchronous for a file opened first here (`FULL`: a committed row survives
            power loss; `NORMAL`: survives a process crash). Ignored by PostgreSQL, which is durable on commit.
        auto_upgrade: bring an outdated schema up to date on open; default: SQLite yes, PostgreSQL no.

    Raises:
        SchemaOutdatedError: the schema is outdated and `auto_upgrade` is off.
    """

    def __init__(self, target: Path | str, *, synchronous: str = "NORMAL", auto_upgrade: bool | None = None):
        self.url = to_url(target)
        auto = make_url(self.url).get_backend_name() == "sqlite" if auto_upgrade is None else auto_upgrade
        file = make_url(self.url).database if make_url(self.url).get_backend_name() == "sqlite" else None
        if auto and file and file != ":memory:" and not Path(file).exists():
            _create_from_template(Path(file))
        self.engine = _acquire(self.url, synchronous)
        self.dialect = self.engine.dialect.name
        # appended to a SELECT inside `transaction()`: PostgreSQL locks the row; SQLite already holds the file lock
        self.for_update = " FOR UPDATE" if self.dialect == "postgresql" else ""
        try:
            _ensure_schema(self.url, self.engine, auto)
        except BaseException:
            self.close()
            raise
        self._closed = False

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection in a transaction committed when the block ends (rolled back if it raises)."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection for a read-modify-write unit: SQLite `BEGIN IMMEDIATE`; commit at the end, rollback on error."""
        with self.engine.connect() as connection:
            connection.execution_options(immediate=True)
            with connection.begin():
                yield connection

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        _release(self.url)
