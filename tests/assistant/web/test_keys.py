"""Key store (real SQLite) and the `shopbot keys` commands."""

from __future__ import annotations

import sqlite3
import time

import jwt
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import get_settings
from assistant.errors import ConfigError
from assistant.web.auth import load_token_secret
from assistant.web.keys import KeyStore, ensure_demo_site_key, normalise_origin


def test_keys_are_hashed_at_rest(tmp_path):
    store = KeyStore(tmp_path / "db.sqlite")
    record, plain = store.create("site", ["https://Shop.Example:443/"], "shop")
    assert plain.startswith("sb_site_") and record.origins == ["https://shop.example"]
    dump = "\n".join(str(row) for row in sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT * FROM api_keys"))
    assert plain not in dump and plain[len(record.prefix):] not in dump
    assert store.verify(plain).id == record.id
    assert store.verify(plain + "x") is None and store.verify("") is None


def test_site_keys_need_origins_and_secret_keys_take_none(tmp_path):
    store = KeyStore(tmp_path / "db.sqlite")
    with pytest.raises(ConfigError, match="--origin"):
        store.create("site", [])
    with pytest.raises(ConfigError, match="take no --origin"):
        store.create("secret", ["https://shop.example"])
    with pytest.raises(ConfigError, match="expected one of"):
        store.create("public", ["https://shop.example"])
    with pytest.raises(ConfigError, match="has a path"):
        normalise_origin("https://shop.example/page")
    assert normalise_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"


def test_revoke(tmp_path):
    store = KeyStore(tmp_path / "db.sqlite")
    record, plain = store.create("secret")
    store.revoke(record.id)
    assert store.verify(plain) is None and not store.get(record.id).active
    with pytest.raises(ConfigError, match="known ids"):
        store.revoke("key_nope")


def test_demo_key_only_on_fresh_install(tmp_path):
    store = KeyStore(tmp_path / "db.sqlite")
    key, created = ensure_demo_site_key(store, tmp_path, ["http://127.0.0.1:8000"])
    assert created and store.verify(key).allows_origin("http://127.0.0.1:8000")
    assert ensure_demo_site_key(store, tmp_path, ["http://127.0.0.1:8000"]) == (key, False)
    moved, created = ensure_demo_site_key(store, tmp_path, ["http://127.0.0.1:9000"])
    assert created and moved != key
    other = KeyStore(tmp_path / "other.sqlite")
    other.create("secret")
    assert ensure_demo_site_key(other, tmp_path / "elsewhere", ["http://127.0.0.1:8000"]) == (None, False)


def test_cli_create_list_revoke():
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--kind", "site", "--origin", "https://shop.example", "--name", "web"])
    assert made.exit_code == 0, made.output
    key_id = made.output.split()[0]
    plain = made.output.split("store it now): ")[1].strip()
    listed = runner.invoke(app, ["keys", "list", "--json"])
    assert listed.exit_code == 0 and key_id in listed.output and plain not in listed.output
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert KeyStore(get_settings().db_path).verify(plain) is None
    token = runner.invoke(app, ["keys", "token", "c001", "--ttl", "600"])
    assert token.exit_code == 0, token.output
    claims = jwt.decode(token.output.strip(), load_token_secret(None, get_settings().home), algorithms=["HS256"])
    assert claims["sub"] == "c001" and 590 <= claims["exp"] - time.time() <= 600


def test_cli_errors_are_one_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "assistant.cli", "keys", "create", "--kind", "site"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error:") and "--origin" in result.stderr and "Traceback" not in result.stderr
