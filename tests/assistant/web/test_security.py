"""Customer tokens, rate limiter, session owners (real SQLite)."""

from __future__ import annotations

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
    token = tokens.issue("c001", ttl_s=60, now=1000.0)
    assert tokens.verify(token, now=1030.0) == "c001"
    with pytest.raises(InvalidTokenError, match="expired"):
        tokens.verify(token, now=1100.0)
    with pytest.raises(InvalidTokenError, match="signature"):
        CustomerTokens(b"x" * 40).verify(token, now=1030.0)
    payload, signature = token.split(".")
    with pytest.raises(InvalidTokenError):
        tokens.verify(payload + ".", now=1030.0)
    with pytest.raises(InvalidTokenError, match="signature"):  # swapping the customer id breaks the signature
        forged = tokens.issue("c002", ttl_s=60, now=1000.0).split(".")[0] + "." + signature
        tokens.verify(forged, now=1030.0)


def test_token_secret_is_created_once_and_private(tmp_path):
    first = load_token_secret(None, tmp_path)
    assert load_token_secret(None, tmp_path) == first and len(first) >= 32
    assert (tmp_path / "token-secret").stat().st_mode & 0o077 == 0
    assert load_token_secret("s" * 40, tmp_path) == b"s" * 40
    with pytest.raises(ValueError, match="shorter than 32"):
        load_token_secret("short", tmp_path)


def test_rate_limiter_refills():
    limiter = RateLimiter(per_minute=2)
    assert limiter.hit("k", now=0.0) == 0.0 and limiter.hit("k", now=0.1) == 0.0
    wait = limiter.hit("k", now=0.2)
    assert 29 < wait <= 30
    assert limiter.hit("other", now=0.2) == 0.0  # buckets are per name
    assert limiter.hit("k", now=31.0) == 0.0


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
