"""Customer tokens, rate limiter, session owners (real SQLite)."""

from __future__ import annotations

import time

import jwt
import pytest

from assistant.web.auth import (
    CustomerTokens,
    InvalidTokenError,
    RateLimiter,
    SessionOwners,
    load_token_secret,
)


def test_customer_tokens_roundtrip_and_expiry(tmp_path):
    tokens = CustomerTokens(load_token_secret(None, tmp_path))
    token = tokens.issue("c001", ttl_s=60)
    assert tokens.verify(token) == "c001"
    claims = jwt.decode(token, load_token_secret(None, tmp_path), algorithms=["HS256"])
    assert claims["sub"] == "c001" and 55 <= claims["exp"] - time.time() <= 60  # a standard JWT
    with pytest.raises(InvalidTokenError, match="expired"):
        tokens.verify(tokens.issue("c001", ttl_s=60, now=time.time() - 3600))
    with pytest.raises(InvalidTokenError, match="signature"):
        CustomerTokens(b"x" * 40).verify(token)
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidTokenError, match="malformed"):
        tokens.verify(header + "." + payload)
    with pytest.raises(InvalidTokenError, match="malformed"):
        tokens.verify("not a token")
    with pytest.raises(InvalidTokenError, match="signature"):  # swapping the customer id breaks the signature
        forged = tokens.issue("c002", ttl_s=60).split(".")[1]
        tokens.verify(f"{header}.{forged}.{signature}")


def test_customer_tokens_from_other_jwt_libraries(tmp_path):
    """What a shop's backend mints in any language (HS256, `sub` and `exp`, maybe `iat`) is accepted; other
    algorithms, `alg: none` and tokens without `exp` are refused with a message naming the problem."""
    secret = load_token_secret(None, tmp_path)
    tokens = CustomerTokens(secret)
    now = int(time.time())
    assert tokens.verify(jwt.encode({"sub": "C001", "exp": now + 3600}, secret, algorithm="HS256")) == "C001"
    # jsonwebtoken adds `iat`; a backend clock a few seconds ahead is within the leeway
    assert tokens.verify(jwt.encode({"sub": "C001", "iat": now + 5, "exp": now + 3600}, secret, algorithm="HS256")) == "C001"
    unsigned = jwt.encode({"sub": "C001", "exp": now + 3600}, None, algorithm="none")
    with pytest.raises(InvalidTokenError, match="'none'.*HS256"):
        tokens.verify(unsigned)
    with pytest.raises(InvalidTokenError, match="'HS512'.*HS256"):
        tokens.verify(jwt.encode({"sub": "C001", "exp": now + 3600}, secret * 2, algorithm="HS512"))
    with pytest.raises(InvalidTokenError, match="'exp'"):
        tokens.verify(jwt.encode({"sub": "C001"}, secret, algorithm="HS256"))
    with pytest.raises(InvalidTokenError, match="'sub'"):
        tokens.verify(jwt.encode({"exp": now + 3600}, secret, algorithm="HS256"))
    with pytest.raises(InvalidTokenError, match="expired"):
        tokens.verify(jwt.encode({"sub": "C001", "exp": now - 120}, secret, algorithm="HS256"))


def test_token_secret_is_created_once_and_private(tmp_path):
    first = load_token_secret(None, tmp_path)
    assert load_token_secret(None, tmp_path) == first and len(first) >= 32
    assert (tmp_path / "token-secret").stat().st_mode & 0o077 == 0
    assert load_token_secret("s" * 40, tmp_path) == b"s" * 40
    with pytest.raises(ValueError, match="shorter than 32"):
        load_token_secret("short", tmp_path)


def test_rate_limiter_windows_in_the_database(tmp_path):
    clock = [1_000.0]
    limiter = RateLimiter(per_minute=2, storage=tmp_path / "db.sqlite", clock=lambda: clock[0])
    assert limiter.hit("k") == 0.0 and limiter.hit("k") == 0.0
    clock[0] += 0.2
    wait = limiter.hit("k")
    assert 59 < wait <= 60
    assert limiter.hit("other") == 0.0  # windows are per name
    clock[0] += 60.0
    assert limiter.hit("k") == 0.0  # a new window


def test_rate_limiters_on_one_database_share_the_count(tmp_path):
    """Two workers (two limiters) on one database enforce one limit: 3 per minute across both, not 3 each."""
    workers = [RateLimiter(per_minute=3, storage=tmp_path / "db.sqlite") for _ in range(2)]
    waits = [workers[i % 2].hit("key:k") for i in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0] and all(w > 0 for w in waits[3:])


def test_rate_limiter_memory_storage_and_a_clear_error_for_a_bad_one():
    limiter = RateLimiter(per_minute=1, storage="memory://")
    assert limiter.hit("k") == 0.0 and limiter.hit("k") > 0
    with pytest.raises(ValueError, match="api.rate_limit_storage"):
        RateLimiter(per_minute=1, storage="redis://127.0.0.1:1/0")


def test_session_owners(tmp_path):
    owners = SessionOwners(tmp_path / "db.sqlite")
    owners.claim("s1", "key_a", "c001")
    assert owners.may_continue("s1", "key_a", "c001")
    assert not owners.may_continue("s1", "key_b", "c001")
    assert not owners.may_continue("s1", "key_a", None)
    assert not owners.may_continue("s1", "key_a", "c002")
    assert not owners.may_continue("unknown", "key_a", None)
    owners.claim("s1", "key_b", None)  # first claim wins
    assert owners.owner("s1") == ("key_a", "c001")


def test_feedback_is_stored_with_personal_data_redacted(tmp_path):
    from assistant.shop.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "db.sqlite")
    saved = store.add(-1, session_id="s1", comment="mail me at jo@example.com", user_message="my card is 4111 1111 1111 1111",
                      reply="ok", source="ui")
    assert "jo@example.com" not in saved.comment and "4111" not in saved.user_message
    store.set_comment(saved.id, "call +1 (802) 555-0143")
    assert "555-0143" not in store.get(saved.id).comment
    out = tmp_path / "feedback.jsonl"
    assert store.export_jsonl(out) == 1
    with pytest.raises(ValueError, match="thumbs"):
        store.add(0)
