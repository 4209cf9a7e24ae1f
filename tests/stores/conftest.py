"""Fixtures for the store tests: each store on its real backend, with a way to look
inside the backend (to check what is really stored, expired records included)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from thunderid_mw.stores import MemoryStore, RedisStore, SQLiteStore
from thunderid_mw.stores.base import SessionStore


@dataclass
class Backend:
    name: str
    store: SessionStore
    #: Session keys physically held by the backend (expired ones not yet removed included).
    raw_keys: Callable[[], set[str]]
    #: Lock names physically held by the backend.
    raw_locks: Callable[[], set[str]]
    cleanup: Callable[[], None] = lambda: None


def memory_backend() -> Backend:
    store = MemoryStore()
    return Backend(
        "memory",
        store,
        raw_keys=lambda: set(store._data),
        raw_locks=lambda: set(store._locks),
    )


def sqlite_backend(path: Path, **kwargs: object) -> Backend:
    store = SQLiteStore(path, **kwargs)  # type: ignore[arg-type]

    def query(sql: str) -> set[str]:
        with sqlite3.connect(path) as conn:
            return {row[0] for row in conn.execute(sql)}

    return Backend(
        "sqlite",
        store,
        raw_keys=lambda: query("SELECT key FROM sessions"),
        raw_locks=lambda: query("SELECT name FROM locks"),
    )


def redis_backend(url: str, prefix: str = "test:") -> Backend:
    store = RedisStore(url, prefix=prefix, socket_timeout=2.0)
    raw = redis.Redis.from_url(url)

    def scan(kind: str) -> set[str]:
        # Note: SCAN itself deletes the expired keys it meets; tests of expiry use DBSIZE.
        start = f"{prefix}{kind}:"
        return {k.decode()[len(start) :] for k in raw.scan_iter(match=f"{start}*")}

    return Backend(
        "redis",
        store,
        raw_keys=lambda: scan("s"),
        raw_locks=lambda: scan("l"),
        cleanup=raw.close,
    )


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        b = memory_backend()
    elif request.param == "sqlite":
        b = sqlite_backend(tmp_path / "sessions.sqlite3")
    else:
        b = redis_backend(request.getfixturevalue("redis_url"))
    yield b
    b.store.close()
    b.cleanup()


@pytest.fixture
def store(backend: Backend) -> SessionStore:
    return backend.store
