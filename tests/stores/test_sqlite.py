"""SQLiteStore specifics: worker processes (fork and spawn), threads, the sweep, errors."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from thunderid_mw.core.errors import ConfigError, StoreUnavailable
from thunderid_mw.stores import SQLiteStore

from . import _workers

PROCESSES, INCREMENTS = 8, 50


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_increment_a_counter(tmp_path: Path, method: str) -> None:
    ctx: Any = multiprocessing.get_context(method)
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    # the parent has an open connection when it forks: children must not use it
    store.save("counter", b"0", expires_at=time.time() + 60, expected_version=None)
    start = ctx.Event()
    arg = store if method == "fork" else str(path)
    procs = [
        ctx.Process(target=_workers.increment, args=(arg, "counter", INCREMENTS, start))
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    item = store.load("counter")  # the parent's connection still works after the forks
    assert item is not None and item.data == b"%d" % (PROCESSES * INCREMENTS)
    store.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_lock_held_by_one_process_blocks_another(tmp_path: Path, method: str) -> None:
    ctx: Any = multiprocessing.get_context(method)
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    assert store.acquire_lock("warmup", "parent", 1)  # an open connection before forking
    held, release = ctx.Event(), ctx.Event()
    arg = store if method == "fork" else str(path)
    child = ctx.Process(target=_workers.hold_lock, args=(arg, "L", held, release))
    child.start()
    try:
        assert held.wait(30)
        assert store.acquire_lock("L", "parent", 10) is False
        assert store.release_lock("L", "parent") is False
    finally:
        release.set()
        child.join(30)
    assert child.exitcode == 0
    assert store.acquire_lock("L", "parent", 10) is True
    store.close()


def test_wal_mode_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path)
    assert store.load("x") is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "locks"} <= tables
    store.close()


def test_writes_trigger_the_sweep(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path, sweep_every=5)
    for i in range(3):
        store.save(f"old{i}", b"x", expires_at=time.time() + 0.05, expected_version=None)
    store.acquire_lock("old-lock", "o", 0.05)
    time.sleep(0.1)
    for i in range(5):
        store.save(f"new{i}", b"x", expires_at=time.time() + 60, expected_version=None)
    with sqlite3.connect(path) as conn:
        keys = {r[0] for r in conn.execute("SELECT key FROM sessions")}
        locks = conn.execute("SELECT count(*) FROM locks").fetchone()[0]
    assert keys == {f"new{i}" for i in range(5)}
    assert locks == 0
    store.close()


def test_purge_expired_counts(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    for i in range(1200):  # more than one purge batch
        store.save(f"k{i}", b"x", expires_at=time.time() - 1, expected_version=None)
    store.save("live", b"x", expires_at=time.time() + 60, expected_version=None)
    assert store.purge_expired() >= 1200 - 1000  # the periodic sweep may have run already
    assert store.purge_expired() == 0
    assert store.load("live") is not None
    store.close()


def test_each_thread_has_its_own_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    conns = []

    def grab() -> None:
        conns.append(store._connection())

    ts = [threading.Thread(target=grab) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    grab()
    assert len({id(c) for c in conns}) == 5
    store.close()


def test_close_then_reuse(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.save("k", b"x", expires_at=time.time() + 60, expected_version=None)
    store.close()
    assert store.load("k") is not None  # reopens
    store.close()


def test_relative_path_is_resolved_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SQLiteStore("rel.sqlite3")
    assert store.path == str(tmp_path / "rel.sqlite3")
    monkeypatch.chdir("/")
    store.save("k", b"x", expires_at=time.time() + 60, expected_version=None)
    assert (tmp_path / "rel.sqlite3").exists()
    store.close()


@pytest.mark.parametrize("bad", ["", ":memory:", "file:x?mode=memory"])
def test_needs_a_file_path(bad: str) -> None:
    with pytest.raises(ConfigError, match="needs the path of a database file"):
        SQLiteStore(bad)


def test_unreachable_database_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "no-such-dir" / "s.sqlite3")
    with pytest.raises(StoreUnavailable) as info:
        store.load("k")
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)


def test_not_a_database_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(os.urandom(8192))
    store = SQLiteStore(path)
    with pytest.raises(StoreUnavailable):
        store.save("k", b"x", expires_at=time.time() + 60, expected_version=None)


def test_locked_database_beyond_the_timeout_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SQLiteStore(path, timeout=0.1)
    store.save("k", b"x", expires_at=time.time() + 60, expected_version=None)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.save("k2", b"x", expires_at=time.time() + 60, expected_version=None)
        assert time.monotonic() - t0 < 2
        with pytest.raises(StoreUnavailable):
            store.acquire_lock("L", "o", 1)
        assert store.load("k") is not None  # WAL: readers are not blocked by a writer
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.save("k2", b"x", expires_at=time.time() + 60, expected_version=None)
    store.close()


async def test_async_twins_do_not_hop_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.asave("k", b"x", expires_at=time.time() + 60, expected_version=None)
    # the async call used this thread's connection: no worker thread opened one
    assert list(store._conns) == [threading.get_ident()]
    await store.aclose()


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.save("k", b"x", expires_at=time.time() + 60, expected_version=None)
    queue = ctx.Queue()
    child = ctx.Process(target=_workers.report_fork_state, args=(store, queue))
    child.start()
    assert queue.get(timeout=30) == (True, True)  # new connection; the parent's kept aside
    child.join(30)
    assert child.exitcode == 0
    assert store.load("k") is not None
    store.close()


def test_a_new_database_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    ctx: Any = multiprocessing.get_context("fork")
    path = str(tmp_path / "fresh.sqlite3")
    start = ctx.Event()
    procs = [ctx.Process(target=_workers.save_one, args=(path, f"k{i}", start)) for i in range(8)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * 8
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 8


def test_a_new_database_opened_by_many_threads_at_once(tmp_path: Path) -> None:
    for attempt in range(5):
        store = SQLiteStore(tmp_path / f"fresh{attempt}.sqlite3")
        barrier = threading.Barrier(16)
        errors: list[BaseException] = []

        def work(i: int, store: SQLiteStore = store, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                store.save(f"k{i}", b"x", expires_at=time.time() + 60, expected_version=None)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        store.close()
