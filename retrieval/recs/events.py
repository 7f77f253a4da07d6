"""Behaviour events: what shoppers viewed, clicked, carted, bought, searched and rated.

`EventStore` keeps them append-only in the shared database (`storage`: a SQLite file with WAL and
`synchronous=FULL`, so every committed event survives a crash of the process or the machine, or PostgreSQL,
where every worker of a shop records into one log). Rows are never updated or deleted: triggers refuse it.
`read_online_retail` turns the UCI Online Retail CSV into purchase events (cancellations removed from the
purchases they cancel) plus a catalog of its items.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import text

from retrieval.catalog import Product
from retrieval.errors import RetrievalError
from storage import Database

logger = logging.getLogger(__name__)

EventType = Literal["view", "click", "add_to_cart", "purchase", "search", "rate"]
EVENT_TYPES: tuple[str, ...] = ("view", "click", "add_to_cart", "purchase", "search", "rate")


class Event(BaseModel):
    """One thing a shopper did. `ts` is Unix seconds (ISO strings and datetimes are accepted)."""

    model_config = ConfigDict(extra="forbid")

    type: EventType
    user_id: str = Field(min_length=1)
    product_id: str | None = Field(None, description="Required for every type except 'search'.")
    ts: float = Field(default_factory=time.time, description="Unix seconds, UTC.")
    session_id: str | None = None
    context: str | None = Field(None, description="The search query, or where the event happened.")
    value: float | None = Field(None, description="Quantity for 'purchase', stars 1-5 for 'rate'.")

    @field_validator("ts", mode="before")
    @classmethod
    def _to_unix(cls, value: object) -> object:
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        return value

    @model_validator(mode="after")
    def _complete(self) -> Event:
        if self.type == "search":
            if not (self.context or "").strip():
                raise ValueError("a 'search' event needs the query in 'context'.")
        elif not self.product_id:
            raise ValueError(f"a '{self.type}' event needs a 'product_id'.")
        if self.type == "rate" and (self.value is None or not 1 <= self.value <= 5):
            raise ValueError(f"a 'rate' event needs 'value' between 1 and 5, got {self.value!r}.")
        return self


class EventRow(NamedTuple):
    """A stored event as a plain tuple: what bulk reads and imports use (no validation, ~50x cheaper)."""

    type: str
    user_id: str
    product_id: str | None
    ts: float
    session_id: str | None
    context: str | None
    value: float | None


_COLUMNS = "type, user_id, product_id, ts, session_id, context, value"


_INSERT = text(
    f"INSERT INTO events ({_COLUMNS}) VALUES (:type, :user_id, :product_id, :ts, :session_id, :context, :value)"
)


def _row(event: Event | EventRow) -> tuple:
    return (event.type, event.user_id, event.product_id, event.ts, event.session_id, event.context, event.value)


def _params(event: Event | EventRow) -> dict:
    return dict(zip(EventRow._fields, _row(event), strict=True))


def _event(row: tuple) -> Event:
    keys = ("type", "user_id", "product_id", "ts", "session_id", "context", "value")
    return Event.model_construct(**dict(zip(keys, row, strict=True)))  # rows were validated on the way in


class EventStore:
    """Append-only event log in the shared database; safe to share between threads, workers and machines.

    `path`: a SQLite file (the default `<home>/events.db`) or a database URL (`storage.Database`), e.g. the
    PostgreSQL database every worker of the shop uses.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._db = Database(path, synchronous="FULL")  # a committed event survives power loss, not only a crash

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, event: Event) -> int:
        """Commit one event; return its row id."""
        with self._db.connect() as db:
            return int(db.execute(text(_INSERT.text + " RETURNING id"), _params(event)).scalar_one())

    def append_many(self, events: Iterable[Event | EventRow], batch_size: int = 5_000) -> int:
        """Commit events in transactions of `batch_size`; a crash loses at most the open batch. Returns the count."""
        total = 0
        batch: list[dict] = []
        for event in events:
            batch.append(_params(event))
            if len(batch) >= batch_size:
                total += self._commit(batch)
                batch = []
        if batch:
            total += self._commit(batch)
        return total

    def _commit(self, rows: list[dict]) -> int:
        with self._db.transaction() as db:
            db.execute(_INSERT, rows)
        return len(rows)

    def _import_once(self, digest: str, source: str, events: list) -> int | None:
        """Append `events` and record `digest` in one transaction; None (nothing appended) when the digest is known.

        Two workers importing the same file at once: the second waits on the first's digest row and appends nothing.
        """
        with self._db.transaction() as db:
            claimed = db.execute(text(
                "INSERT INTO imports (digest, source, events, imported_at) VALUES (:digest, :source, :events, :now) "
                "ON CONFLICT (digest) DO NOTHING"), {"digest": digest, "source": source, "events": len(events), "now": time.time()},
            ).rowcount
            if not claimed:
                return None
            for start in range(0, len(events), 5_000):
                db.execute(_INSERT, [_params(e) for e in events[start:start + 5_000]])
        return len(events)

    def _imported(self, digest: str) -> bool:
        with self._db.connect() as db:
            return db.execute(text("SELECT 1 FROM imports WHERE digest = :digest"), {"digest": digest}).first() is not None

    def import_jsonl(self, path: Path) -> int:
        """Append the events of a JSONL file once (a file already imported, byte for byte, is skipped).

        Raises `RetrievalError` naming the line when a row is not a valid event.
        """
        path = Path(path)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if self._imported(digest):
            return 0
        events = []
        for n, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(Event.model_validate_json(line))
            except ValueError as exc:
                raise RetrievalError(f"{path} line {n} is not a valid event ({exc}); fix or remove that line.") from exc
        count = self._import_once(digest, str(path), events)
        if count is None:
            return 0
        logger.info("imported %d events from %s", count, path)
        return count

    def import_online_retail(self, path: Path) -> RetailImport:
        """Append the purchases of a UCI Online Retail file once (see `read_online_retail`); returns what was read.

        The same file imported again appends nothing. The returned `.products` are its items as a catalog.
        """
        path = Path(path)
        data = read_online_retail(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not self._imported(digest):
            self._import_once(digest, str(path), data.events)
        return data

    def events(
        self,
        *,
        user_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        types: Iterable[str] | None = None,
    ) -> Iterator[Event]:
        """Events in time order, filtered; `until` is exclusive."""
        where, args = [], {}
        if user_id is not None:
            where.append("user_id = :user_id")
            args["user_id"] = user_id
        if since is not None:
            where.append("ts >= :since")
            args["since"] = since
        if until is not None:
            where.append("ts < :until")
            args["until"] = until
        if types is not None:
            kinds = list(types)
            names = [f"type{i}" for i in range(len(kinds))]
            where.append(f"type IN ({', '.join(':' + n for n in names)})" if kinds else "1 = 0")
            args.update(zip(names, kinds, strict=True))
        sql = f"SELECT {_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts, id"
        with self._db.connect() as db:
            rows = db.execute(text(sql), args).fetchall()
        return (_event(tuple(r)) for r in rows)

    def rows(self, *, until: float | None = None) -> list[EventRow]:
        """Every event (before `until`, exclusive) as plain tuples in time order: for training."""
        sql = f"SELECT {_COLUMNS} FROM events" + (" WHERE ts < :until" if until is not None else "") + " ORDER BY ts, id"
        with self._db.connect() as db:
            rows = db.execute(text(sql), {} if until is None else {"until": until}).fetchall()
        return [EventRow(*r) for r in rows]

    def recent(self, user_id: str, limit: int = 200) -> list[Event]:
        """The user's latest `limit` events, oldest first."""
        with self._db.connect() as db:
            rows = db.execute(text(
                f"SELECT {_COLUMNS} FROM events WHERE user_id = :user ORDER BY ts DESC, id DESC LIMIT :limit"),
                {"user": user_id, "limit": limit},
            ).fetchall()
        return [_event(tuple(r)) for r in reversed(rows)]

    def count(self, user_id: str | None = None) -> int:
        """How many events are stored (of `user_id` only, when given)."""
        sql = "SELECT COUNT(*) FROM events" + (" WHERE user_id = :user" if user_id is not None else "")
        with self._db.connect() as db:
            return int(db.execute(text(sql), {"user": user_id} if user_id is not None else {}).scalar_one())

    def users(self) -> list[str]:
        with self._db.connect() as db:
            return [r[0] for r in db.execute(text("SELECT DISTINCT user_id FROM events ORDER BY user_id"))]


# ---------------------------------------------------------------- UCI Online Retail


@dataclass
class RetailImport:
    """Purchase events and the item catalog read from the UCI Online Retail CSV."""

    events: list[EventRow]
    products: list[Product]
    stats: dict[str, int] = field(default_factory=dict)


_RETAIL_COLUMNS = {"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}


def read_online_retail(path: Path) -> RetailImport:
    """Read the UCI Online Retail CSV (.csv or .csv.gz) into purchase events, oldest first, and a catalog.

    Rows without a CustomerID cannot be attributed and are skipped. A cancellation (invoice 'C...') removes
    its quantity from that customer's latest earlier purchases of the same item; a purchase cancelled in full
    disappears, one cancelled in part keeps the remaining quantity. Cancellations of purchases from before the
    file starts are dropped. Each item becomes a `Product` (id = StockCode, price = median unit price, GBP).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Transactions file '{path}' not found; pass the UCI Online Retail CSV (.csv or .csv.gz).")
    opener = gzip.open if path.suffix == ".gz" else open
    stats = dict.fromkeys(
        ["rows", "no_customer", "bad_quantity", "purchases", "cancellations", "cancelled_unmatched", "removed"], 0
    )
    lines: list[list] = []  # [ts, customer, stock, qty, invoice] purchase lines, qty mutable
    cancels: list[tuple[float, str, str, float]] = []
    titles: dict[str, dict[str, int]] = {}
    prices: dict[str, list[float]] = {}
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        missing = _RETAIL_COLUMNS - set(header)
        if missing:
            raise RetrievalError(
                f"'{path}' lacks the Online Retail columns {sorted(missing)}; expected {sorted(_RETAIL_COLUMNS)}."
            )
        col = {name: header.index(name) for name in _RETAIL_COLUMNS}
        c_inv, c_stock, c_desc, c_qty, c_date, c_price, c_cust = (
            col[n] for n in ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")
        )
        seen_dates: dict[str, float] = {}  # invoice dates repeat on every line of an invoice
        for row in reader:
            stats["rows"] += 1
            stock = row[c_stock].strip()
            desc = row[c_desc].strip()
            if desc:
                titles.setdefault(stock, {}).setdefault(desc, 0)
                titles[stock][desc] += 1
            customer = row[c_cust].strip()
            if not customer:
                stats["no_customer"] += 1
                continue
            customer = customer.removesuffix(".0")
            qty = float(row[c_qty])
            ts = seen_dates.get(row[c_date])
            if ts is None:
                ts = seen_dates[row[c_date]] = datetime.fromisoformat(row[c_date]).replace(tzinfo=UTC).timestamp()
            invoice = row[c_inv].strip()
            if invoice.upper().startswith("C"):
                stats["cancellations"] += 1
                cancels.append((ts, customer, stock, abs(qty)))
                continue
            if qty <= 0:
                stats["bad_quantity"] += 1
                continue
            price = float(row[c_price] or 0)
            if price > 0:
                prices.setdefault(stock, []).append(price)
            lines.append([ts, customer, stock, qty, invoice])
    lines.sort(key=lambda r: r[0])
    cancels.sort(key=lambda r: r[0])
    # Walk purchases and cancellations together in time order; a cancellation eats the latest earlier lines.
    open_lines: dict[tuple[str, str], list[list]] = {}
    i = 0
    for ts, customer, stock, qty in cancels:
        while i < len(lines) and lines[i][0] <= ts:
            open_lines.setdefault((lines[i][1], lines[i][2]), []).append(lines[i])
            i += 1
        stack = open_lines.get((customer, stock), [])
        if not stack:
            stats["cancelled_unmatched"] += 1
            continue
        while qty > 0 and stack:
            take = min(qty, stack[-1][3])
            stack[-1][3] -= take
            qty -= take
            if stack[-1][3] <= 0:
                stack.pop()
    events = []
    for ts, customer, stock, qty, invoice in lines:
        if qty <= 0:
            stats["removed"] += 1
            continue
        events.append(EventRow("purchase", customer, stock, ts, invoice, None, qty))
    stats["purchases"] = len(events)
    products = []
    for stock, names in sorted(titles.items()):
        title = max(names.items(), key=lambda kv: kv[1])[0]
        price = prices.get(stock)
        products.append(
            Product(
                id=stock,
                title=title.title(),
                description=title.capitalize(),
                price=round(statistics.median(price), 2) if price else None,
                currency="GBP",
            )
        )
    logger.info("online retail %s: %s", path.name, stats)
    return RetailImport(events=events, products=products, stats=stats)


def write_events_jsonl(events: Iterable[Event | EventRow], path: Path) -> int:
    """Write events one JSON object per line (what `EventStore.import_jsonl` reads). Returns the count."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for event in events:
            row = dict(zip(EventRow._fields, _row(event), strict=True))
            fh.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
            n += 1
    return n
