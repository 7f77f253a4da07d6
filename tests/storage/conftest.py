"""A throwaway PostgreSQL server (Debian's `postgresql` package, installed by `make system-deps`) for the tests.

One cluster per test session in a temp dir, on a free loopback port, trust auth; `postgres_url("name")` makes a
fresh database and returns its SQLAlchemy URL. As root (CI containers) the server runs as the `postgres` user
(initdb refuses root), so the folder is created outside pytest's private temp dir and handed to that user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[Callable[[str], str]]:
    if not PG_BINS:
        pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run `make system-deps`.")
    bin_dir = PG_BINS[0].parent
    folder = Path(tempfile.mkdtemp(prefix="shopbot-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = folder / "data"

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "shopbot", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start")
    base = f"postgresql+psycopg://shopbot@127.0.0.1:{port}"
    try:
        import psycopg

        def make(name: str) -> str:
            name = f"{name}_{secrets.token_hex(3)}"
            with psycopg.connect(f"postgresql://shopbot@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"{base}/{name}"

        yield make
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
