"""Request security for the HTTP API: customer tokens (JWT), rate limits, body-size limits, session owners.

Which key may call what, and from which origin, is decided in `assistant.web.api` (one place per route);
this module holds the mechanisms it uses.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from sqlalchemy import text

from assistant.web.keys import normalise_origin
from storage import Database

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


# storage URIs that `limits` itself serves; anything else is a database (SQLite path or SQLAlchemy URL)
LIMITS_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+cluster", "redis+sentinel", "memcached", "mongodb", "etcd")


class RateLimiter:
    """`per_minute` requests per name (`key:<id>`, `ip:<addr>`) in fixed one-minute windows (the `limits` library).

    Args:
        per_minute: requests allowed per name and window.
        storage: where the counters live, shared by every worker that names the same one: a database (a SQLite
            path or a SQLAlchemy URL, the default being the stores' database), `redis://host:6379/0`, or
            `memory://` (this process only).
        clock: Unix seconds, for tests of the database storage.

    Raises:
        ValueError: a storage URI `limits` cannot open (e.g. `redis://` without the `redis` package installed).
    """

    def __init__(self, per_minute: int, storage: Path | str = "memory://", *, clock: Callable[[], float] = time.time):
        from limits import RateLimitItemPerMinute
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        self.item = RateLimitItemPerMinute(per_minute)
        self._clock = clock
        scheme = urlsplit(str(storage)).scheme if "://" in str(storage) else ""
        if scheme in LIMITS_SCHEMES:
            try:
                self.storage = storage_from_string(str(storage))
            except Exception as exc:  # limits raises ConfigurationError for a missing driver or a bad URI
                raise ValueError(f"api.rate_limit_storage '{storage}' cannot be opened ({exc}); "
                                 "install its client (e.g. `pip install redis`) or leave it unset to use the database.") from exc
        else:
            from storage.ratelimits import DatabaseStorage

            self.storage = DatabaseStorage(storage, clock=clock)
        self._limiter = FixedWindowRateLimiter(self.storage)

    def hit(self, name: str) -> float:
        """Count one request; returns 0.0 if allowed, else the seconds until the window resets."""
        if self._limiter.hit(self.item, name):
            return 0.0
        reset = self._limiter.get_window_stats(self.item, name).reset_time
        return max(0.0, reset - self._clock()) or 1.0


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
    """Which key and which customer opened each chat session (table `api_sessions` in the shared database).

    A session can only be continued with the same key and the same customer (or anonymity) it started
    with, so a leaked or guessed session id never reads another person's conversation.
    """

    def __init__(self, db_path: Path | str):
        self.db_path = db_path  # a SQLite file or a database URL
        self._db = Database(db_path)

    def claim(self, session_id: str, key_id: str, user_id: str | None) -> None:
        """Record the owner of a new session (no-op if already recorded)."""
        with self._db.connect() as db:
            db.execute(text(
                "INSERT INTO api_sessions (session_id, key_id, user_id, created_at) VALUES (:session, :key, :user, :now) "
                "ON CONFLICT (session_id) DO NOTHING"), {"session": session_id, "key": key_id, "user": user_id, "now": time.time()})

    def owner(self, session_id: str) -> tuple[str, str | None] | None:
        with self._db.connect() as db:
            row = db.execute(text("SELECT key_id, user_id FROM api_sessions WHERE session_id = :session"),
                             {"session": session_id}).fetchone()
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
