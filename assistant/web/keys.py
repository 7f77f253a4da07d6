"""API keys: publishable site keys bound to allowed origins, and secret keys for server-to-server calls.

Only a SHA-256 hash of each key is stored (keys are 32 random bytes, so a fast hash is enough); the key
itself is shown once, when it is created. A key looks like `sb_site_<random>` or `sb_secret_<random>`,
so a leaked one is recognisable in logs and secret scanners.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy import RowMapping, text

from assistant.errors import ConfigError
from storage import Database

logger = logging.getLogger(__name__)

KeyKind = Literal["site", "secret"]
KINDS: tuple[str, ...] = ("site", "secret")



class ApiKey(BaseModel):
    """A stored key, without its secret."""

    id: str
    kind: KeyKind
    name: str = ""
    prefix: str  # first characters of the key, to recognise it in `shopbot keys list`
    origins: list[str] = []
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows_origin(self, origin: str) -> bool:
        return normalise_origin(origin) in self.origins


def normalise_origin(origin: str) -> str:
    """`HTTPS://Shop.example:443/` -> `https://shop.example`; raises ConfigError for anything not an origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"Origin '{origin}' is not an origin; write it as scheme://host[:port], e.g. https://shop.example."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"Origin '{origin}' has a path; an origin is only scheme://host[:port], e.g. https://shop.example.")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Keys in the shared database (table `api_keys`; `db_path`: a SQLite file or a database URL)."""

    def __init__(self, db_path: Path | str):
        self.db_path = db_path
        self._db = Database(db_path)

    def create(self, kind: str = "site", origins: list[str] | None = None, name: str = "") -> tuple[ApiKey, str]:
        """Create a key; returns the record and the key itself (shown once, never stored).

        Raises ConfigError for an unknown kind, a site key without origins, or a malformed origin.
        """
        if kind not in KINDS:
            raise ConfigError(f"Unknown key kind '{kind}'; expected one of {list(KINDS)}.")
        clean = sorted({normalise_origin(o) for o in origins or []})
        if kind == "site" and not clean:
            raise ConfigError(
                "A site key needs at least one allowed origin; pass --origin https://your-shop.example (repeatable)."
            )
        if kind == "secret" and clean:
            raise ConfigError("Secret keys are for server-to-server calls and take no --origin; create a site key instead.")
        plain = f"sb_{kind}_{secrets.token_urlsafe(32)}"
        record = ApiKey(
            id=f"key_{secrets.token_hex(6)}", kind=kind, name=name, prefix=plain[: len(kind) + 8],
            origins=clean, created_at=time.time(),
        )
        with self._db.connect() as db:
            db.execute(text(
                "INSERT INTO api_keys (id, kind, name, prefix, key_hash, origins, created_at) "
                "VALUES (:id, :kind, :name, :prefix, :hash, :origins, :created_at)"),
                {"id": record.id, "kind": kind, "name": name, "prefix": record.prefix, "hash": _hash(plain),
                 "origins": json.dumps(clean), "created_at": record.created_at},
            )
        logger.info("created %s key %s for origins %s", kind, record.id, clean)
        return record, plain

    def list(self, include_revoked: bool = True) -> list[ApiKey]:
        with self._db.connect() as db:
            rows = db.execute(text("SELECT * FROM api_keys ORDER BY created_at")).mappings().fetchall()
        keys = [self._record(r) for r in rows]
        return keys if include_revoked else [k for k in keys if k.active]

    def get(self, key_id: str) -> ApiKey | None:
        with self._db.connect() as db:
            row = db.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": key_id}).mappings().fetchone()
        return self._record(row) if row else None

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id; raises ConfigError naming the known ids if it does not exist."""
        with self._db.connect() as db:
            changed = db.execute(text("UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"),
                                 {"now": time.time(), "id": key_id}).rowcount
        if changed == 0 and self.get(key_id) is None:
            known = [k.id for k in self.list()]
            raise ConfigError(f"No key with id '{key_id}'; known ids: {known} (see `shopbot keys list`).")
        logger.info("revoked key %s", key_id)
        return self.get(key_id)  # type: ignore[return-value]

    def verify(self, plain: str) -> ApiKey | None:
        """The active key matching `plain`, or None."""
        if not plain or not plain.startswith("sb_"):
            return None
        with self._db.connect() as db:
            row = db.execute(text("SELECT * FROM api_keys WHERE key_hash = :hash AND revoked_at IS NULL"),
                             {"hash": _hash(plain)}).mappings().fetchone()
        return self._record(row) if row else None

    def site_origins(self) -> set[str]:
        """Every origin some active site key allows (answers CORS preflights, which carry no key)."""
        return {o for k in self.list(include_revoked=False) if k.kind == "site" for o in k.origins}

    @staticmethod
    def _record(row: RowMapping) -> ApiKey:
        return ApiKey(
            id=row["id"], kind=row["kind"], name=row["name"], prefix=row["prefix"], origins=json.loads(row["origins"]),
            created_at=row["created_at"], revoked_at=row["revoked_at"],
        )


def ensure_demo_site_key(store: KeyStore, home: Path, origins: list[str]) -> tuple[str | None, bool]:
    """The local demo's site key for `origins`, kept in `<home>/demo-site-key`: (key or None, created).

    Created only on a fresh install (no keys at all) or when the demo already has a key file (then a new
    key is made when the demo moves to another origin); a shop that manages its own keys gets None.
    Site keys are publishable (they sit in every page that embeds the widget), so keeping the demo's key in
    a file the demo page reads leaks nothing.
    """
    path = Path(home) / "demo-site-key"
    wanted = {normalise_origin(o) for o in origins}
    if path.is_file():
        plain = path.read_text().strip()
        record = store.verify(plain)
        if record is not None and wanted <= set(record.origins):
            return plain, False
    elif store.list():
        return None, False
    _, plain = store.create("site", sorted(wanted), name="demo (created by shopbot serve)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plain + "\n")
    path.chmod(0o600)
    return plain, True
