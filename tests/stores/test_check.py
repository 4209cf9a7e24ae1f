"""The store is opened and checked when the client (hence the middleware) is created: a
store that cannot work is a ``ConfigError`` naming it and the fix (stores/check.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer, _free_port
from thunderid_mw import ThunderIDClient, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.core.errors import ConfigError
from thunderid_mw.stores import MemoryStore, SQLiteStore
from thunderid_mw.stores.check import check_store

SECRET = "check-test-secret-0123456789-abcdefghijkl"


def config(store: object) -> ThunderIDConfig:
    return ThunderIDConfig(
        client_id="app",
        after_sign_in_url="http://127.0.0.1:9/callback",
        secret=SECRET,
        base_url="http://127.0.0.1:9",
        store=store,  # type: ignore[arg-type]
    )


def test_a_working_store_passes_and_keeps_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "sessions.sqlite3")
    check_store(store)
    check_store(MemoryStore())
    rows = sqlite3.connect(tmp_path / "sessions.sqlite3").execute("SELECT count(*) FROM sessions")
    assert rows.fetchone() == (0,)


def test_sqlite_in_a_missing_directory_fails_at_middleware_creation(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "sessions.sqlite3"
    with pytest.raises(ConfigError, match="no-such-dir") as raised:
        ThunderIDWSGIMiddleware(lambda e, s: [], config(f"sqlite:///{path}"))
    assert "absolute path" in str(raised.value) and "THUNDERID_STORE" in str(raised.value)


def test_sqlite_in_a_directory_nobody_can_write_fails() -> None:
    # /proc refuses new files even to root (the suite may run as root, where chmod does not).
    with pytest.raises(ConfigError, match=r"/proc/sessions\.sqlite3"):
        ThunderIDClient(config(SQLiteStore("/proc/sessions.sqlite3")))


def test_default_store_in_a_read_only_working_directory_fails_at_start() -> None:
    """The default store's own case: a non-root container whose working directory is
    read-only."""
    program = (
        "from thunderid_mw import ThunderIDClient, ThunderIDConfig\n"
        f"ThunderIDClient(ThunderIDConfig(client_id='app', secret={SECRET!r},"
        " after_sign_in_url='http://127.0.0.1:9/callback', base_url='http://127.0.0.1:9'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd="/proc",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    assert "ConfigError" in done.stderr and "/proc/thunderid-sessions.sqlite3" in done.stderr
    assert "absolute path" in done.stderr


def test_unreachable_redis_fails_at_start() -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    with pytest.raises(ConfigError, match="start Redis") as raised:
        ThunderIDClient(config(url))
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in str(raised.value)


def test_wrong_redis_password_fails_at_start_without_showing_it(
    redis_server: RedisServer,
) -> None:
    if not redis_server.running:
        redis_server.start()
    host_port = redis_server.url.split("://", 1)[1]
    url = f"redis://nobody:hunter2-wrong@{host_port}"
    with pytest.raises(ConfigError, match="password") as raised:
        ThunderIDClient(config(url))
    assert "hunter2-wrong" not in str(raised.value)
    assert "user and password" in str(raised.value)
