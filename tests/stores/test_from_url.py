"""store_from_url, and importing the stores package without redis-py."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from thunderid_mw.core.errors import ConfigError
from thunderid_mw.stores import MemoryStore, RedisStore, SQLiteStore, store_from_url


def test_memory() -> None:
    store = store_from_url("memory://")
    assert isinstance(store, MemoryStore) and store.max_items is None
    store = store_from_url("memory://?max_items=10")
    assert isinstance(store, MemoryStore) and store.max_items == 10


def test_sqlite_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_from_url("sqlite:///data/sessions.sqlite3")
    assert isinstance(store, SQLiteStore)
    assert store.path == str(tmp_path / "data" / "sessions.sqlite3")


def test_sqlite_absolute(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/s.sqlite3?timeout=1.5")
    assert isinstance(store, SQLiteStore)
    assert store.path == str(tmp_path / "s.sqlite3")
    assert store.timeout == 1.5
    assert store.load("k") is None  # it works
    store.close()


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "rediss://user:pw@cache.example:6380/1", "unix:///run/redis.sock"],
)
def test_redis_schemes(url: str) -> None:
    store = store_from_url(url)
    assert isinstance(store, RedisStore)
    assert store.url == url
    assert store.prefix == "thunderid:"


def test_redis_prefix_parameter() -> None:
    store = store_from_url("redis://127.0.0.1:6379/2?prefix=myapp:&health_check_interval=10")
    assert isinstance(store, RedisStore)
    assert store.prefix == "myapp:"
    assert store.url == "redis://127.0.0.1:6379/2?health_check_interval=10"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://localhost/db",
        "http://example.com",
        "not a url",
        "sqlite://",
        "sqlite:///",
        "sqlite://host/file.sqlite3",
        "memory://?max_items=lots",
        "memory://?bogus=1",
        "memory://?max_items=0",
        "sqlite:///x.sqlite3?journal=off",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        store_from_url(url)


def test_bad_scheme_names_the_accepted_ones() -> None:
    with pytest.raises(ConfigError) as info:
        store_from_url("mongodb://user:secret@db/x")
    msg = str(info.value)
    for scheme in ("memory://", "sqlite:///", "redis://", "rediss://", "unix://"):
        assert scheme in msg
    assert "secret" not in msg


def test_stores_import_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    import thunderid_mw

    monkeypatch.setattr(thunderid_mw, "stores", thunderid_mw.stores)  # restored afterwards
    for name in [n for n in sys.modules if n == "redis" or n.startswith("redis.")]:
        monkeypatch.setitem(sys.modules, name, None)  # makes `import redis...` fail
    monkeypatch.setitem(sys.modules, "redis", None)
    for name in [n for n in sys.modules if n.startswith("thunderid_mw.stores")]:
        monkeypatch.delitem(sys.modules, name)
    stores = importlib.import_module("thunderid_mw.stores")
    assert stores.MemoryStore and stores.SQLiteStore
    with pytest.raises(ImportError, match=r"pip install 'thunderid-mw\[redis\]'"):
        stores.RedisStore
    with pytest.raises(ConfigError, match="redis"):
        stores.store_from_url("redis://localhost")
    with pytest.raises(AttributeError):
        stores.NoSuchThing
