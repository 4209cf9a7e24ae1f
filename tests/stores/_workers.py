"""Functions run in child processes by the SQLite multi-process tests (importable by the
``spawn`` start method, hence not in a test module)."""

from __future__ import annotations

import time
from typing import Any

from thunderid_mw.stores.sqlite import SQLiteStore


def _store(store_or_path: Any) -> SQLiteStore:
    return store_or_path if isinstance(store_or_path, SQLiteStore) else SQLiteStore(store_or_path)


def increment(store_or_path: Any, key: str, times: int, start: Any) -> None:
    """Add 1 to the counter ``key`` ``times`` times by load + compare-and-set."""
    store = _store(store_or_path)
    start.wait(30)
    for _ in range(times):
        while True:
            item = store.load(key)
            assert item is not None
            n = int(item.data)
            v = store.save(
                key, b"%d" % (n + 1), expires_at=time.time() + 60, expected_version=item.version
            )
            if v is not None:
                break
    store.close()


def hold_lock(store_or_path: Any, name: str, held: Any, release: Any) -> None:
    """Take the lock ``name``, say so, and keep it until told to release it."""
    store = _store(store_or_path)
    assert store.acquire_lock(name, "child", 30)
    held.set()
    release.wait(30)
    assert store.release_lock(name, "child")
    store.close()


def report_fork_state(store: SQLiteStore, queue: Any) -> None:
    """In a forked child: report whether the parent's connection was set aside."""
    from thunderid_mw.stores import sqlite as module

    inherited = store._local.state[0]
    fresh = store._connection()
    queue.put((fresh is not inherited, any(c is inherited for c in module._INHERITED)))
    store.close()


def save_one(path: str, key: str, start: Any) -> None:
    """Open a store on ``path`` (maybe a new file) and create one record."""
    store = SQLiteStore(path)
    start.wait(30)
    assert store.save(key, b"x", expires_at=time.time() + 60, expected_version=None)
    store.close()
