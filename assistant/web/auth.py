"""Request security for the HTTP API: customer tokens (JWT), rate limits, body-size limits, session owners.

Which key may call what, and from which origin, is decided in `assistant.web.api` (one place per route);
this module holds the mechanisms it uses.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import jwt

from assistant.shop.db import Database
from assistant.web.keys import normalise_origin

logger = logging.getLogger(__name__)


class InvalidTokenError(ValueError):
    """A customer token that is malformed, tampered with, signed with another algorithm or expired."""


# ---------------------------------------------------------------- customer tokens

TOKEN_ALGORITHM = "HS256"
# jsonwebtoken (Node) adds `iat` to every token and PyJWT refuses an `iat` in its future, so a shop backend
# whose clock runs a few seconds ahead of ours would mint tokens refused at once; 30 s absorbs such drift
# (and lets a token live at most 30 s past its `exp`).
TOKEN_LEEWAY_S = 30
_MINT_HINT = "mint a new one with POST /v1/customer-tokens"


def load_token_secret(configured: str | None, home: Path) -> bytes:
    """The HMAC secret for customer tokens: `api.token_secret`, else `<home>/token-secret` (created once, 0600).

    Several workers behind a load balancer must share it: set SHOPBOT_API__TOKEN_SECRET, or share the home.
    """
    if configured:
        if len(configured) < 32:
            raise ValueError("api.token_secret is shorter than 32 characters; use e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`.")
        return configured.encode()
    path = Path(home) / "token-secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first of two starting workers wins, the other reads its secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip().encode()


class CustomerTokens:
    """Customer tokens as JWTs (RFC 7519): HS256-signed with the token secret, claims `sub` (customer id) and `exp`.

    The shop's backend mints one for its signed-in customer (`POST /v1/customer-tokens` with a secret key,
    this class, or any JWT library holding the secret: see docs/api.md) and puts it in the widget's
    `data-customer-token`; the API takes the customer id only from a valid token, so order tools never
    trust a client-supplied id.
    """

    def __init__(self, secret: bytes, default_ttl_s: int = 3600):
        self._secret = secret
        self.default_ttl_s = default_ttl_s

    def issue(self, user_id: str, ttl_s: int | None = None, now: float | None = None) -> str:
        exp = int((now or time.time()) + (ttl_s or self.default_ttl_s))
        return jwt.encode({"sub": user_id, "exp": exp}, self._secret, algorithm=TOKEN_ALGORITHM)

    def verify(self, token: str) -> str:
        """The customer id (`sub`) in `token`.

        Raises:
            InvalidTokenError: the token is malformed, signed with another key or algorithm (`alg: none`
                included), lacks `sub` or `exp`, or has expired; the message says which.
        """
        token = (token or "").strip()
        try:
            claims = jwt.decode(token, self._secret, algorithms=[TOKEN_ALGORITHM], leeway=TOKEN_LEEWAY_S,
                                options={"require": ["sub", "exp"]})
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError(f"Customer token has expired; {_MINT_HINT}.") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError(
                f"Customer token signature is invalid (tampered with, or signed with another secret than api.token_secret); {_MINT_HINT}."
            ) from exc
        except jwt.InvalidAlgorithmError as exc:
            alg = jwt.get_unverified_header(token).get("alg")
            raise InvalidTokenError(
                f"Customer token is signed with alg {alg!r}; only {TOKEN_ALGORITHM} is accepted, {_MINT_HINT}."
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidTokenError(
                f"Customer token has no {exc.claim!r} claim; it needs 'sub' (the customer id) and 'exp' (expiry, Unix seconds)."
            ) from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidTokenError(
                f"Customer token is not valid yet ({exc}); check the clock of the server that minted it."
            ) from exc
        except jwt.InvalidTokenError as exc:  # DecodeError and the claim-type errors: not a token we can read
            raise InvalidTokenError(f"Customer token is malformed ({exc}); {_MINT_HINT}.") from exc
        return claims["sub"]


# ---------------------------------------------------------------- rate limits


class RateLimiter:
    """Token buckets per name (`key:<id>`, `ip:<addr>`): `per_minute` requests, refilled continuously.

    In memory, so each worker process counts on its own; behind a load balancer with N workers a client
    gets at most N x the limit (see docs/scale-out.md).
    """

    def __init__(self, per_minute: int, max_names: int = 100_000):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_names = max_names
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, last refill time)
        self._lock = threading.Lock()

    def hit(self, name: str, now: float | None = None) -> float:
        """Take one token; returns 0.0 if allowed, else the seconds to wait before retrying."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[name] = (tokens, now)
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
            if len(self._buckets) > self.max_names:  # forget full buckets first; they carry no state
                for stale in [n for n, (t, _) in self._buckets.items() if t >= self.capacity][: self.max_names // 10]:
                    del self._buckets[stale]
        return wait


# ---------------------------------------------------------------- body size


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over `max_bytes` under `prefix` with 413 and a JSON message.

    Checks Content-Length up front and counts streamed (chunked) bodies as they arrive.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int, prefix: str = "/v1"):
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix

    def _message(self) -> bytes:
        return json.dumps(
            {"detail": f"Request body is larger than {self.max_bytes} bytes (api.max_body_bytes); send less."}
        ).encode()

    async def _refuse(self, send) -> None:
        body = self._message()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send)


class _BodyTooLarge(Exception):
    pass


# ---------------------------------------------------------------- session owners


class SessionOwners:
    """Which key and which customer opened each chat session (table `api_sessions` in the SQLite file).

    A session can only be continued with the same key and the same customer (or anonymity) it started
    with, so a leaked or guessed session id never reads another person's conversation.
    """

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._db = Database(
            self.db_path,
            "CREATE TABLE IF NOT EXISTS api_sessions (session_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, "
            "user_id TEXT, created_at REAL NOT NULL);",
        )

    def claim(self, session_id: str, key_id: str, user_id: str | None) -> None:
        """Record the owner of a new session (no-op if already recorded)."""
        with self._db.locked() as db:
            db.execute(
                "INSERT OR IGNORE INTO api_sessions (session_id, key_id, user_id, created_at) VALUES (?,?,?,?)",
                (session_id, key_id, user_id, time.time()),
            )

    def owner(self, session_id: str) -> tuple[str, str | None] | None:
        with self._db.locked() as db:
            row = db.execute("SELECT key_id, user_id FROM api_sessions WHERE session_id = ?", (session_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def may_continue(self, session_id: str, key_id: str, user_id: str | None) -> bool:
        owner = self.owner(session_id)
        return owner is not None and owner == (key_id, user_id)


# ---------------------------------------------------------------- CORS


class SiteCors:
    """ASGI middleware: CORS for `prefix`, answered from the site keys' allowlists, enforced server-side.

    A preflight carries no key, so it is answered for any origin some active site key allows and refused
    (403) for every other origin. Actual requests get `Access-Control-Allow-Origin` only for such origins;
    whether *this* key allows *this* origin is checked per request in `assistant.web.api` (403 otherwise).
    """

    ALLOW_HEADERS = "content-type, x-shopbot-key, x-customer-token, authorization, last-event-id"

    def __init__(self, app, allowed_origins: Callable[[], set[str]], prefix: str = "/v1", max_age_s: int = 600):
        self.app = app
        self.allowed_origins = allowed_origins
        self.prefix = prefix
        self.max_age_s = max_age_s

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin:
            await self.app(scope, receive, send)
            return
        allowed = _normalised(origin) in self.allowed_origins()
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            if allowed:
                out = [
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                    (b"access-control-allow-headers", self.ALLOW_HEADERS.encode()),
                    (b"access-control-max-age", str(self.max_age_s).encode()),
                    (b"vary", b"Origin"),
                ]
                await send({"type": "http.response.start", "status": 204, "headers": out})
                await send({"type": "http.response.body", "body": b""})
            else:
                logger.info("refused CORS preflight from origin %s", origin)
                body = json.dumps({"detail": f"Origin '{origin}' is not allowed by any site key; "
                                   "create one with `shopbot keys create --origin <origin>`."}).encode()
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json"), (b"vary", b"Origin")]})
                await send({"type": "http.response.body", "body": body})
            return

        async def cors_send(message):
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                if allowed:
                    extra.append((b"access-control-allow-origin", origin.encode()))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, cors_send)


def _normalised(origin: str) -> str:
    try:
        return normalise_origin(origin)
    except ValueError:
        return origin  # "null" or garbage: matches no allowlist entry
