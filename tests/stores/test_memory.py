"""MemoryStore specifics: lazy removal, the bounded sweep, max_items."""

from __future__ import annotations

import time

import pytest

from thunderid_mw.stores import MemoryStore


def test_load_removes_an_expired_record() -> None:
    store = MemoryStore()
    store.save("k", b"x", expires_at=time.time() + 0.05, expected_version=None)
    time.sleep(0.1)
    assert "k" in store._data
    assert store.load("k") is None
    assert "k" not in store._data


def test_writes_sweep_expired_records_in_bounded_steps() -> None:
    store = MemoryStore(sweep_interval=0)
    soon = time.time() + 0.05
    for i in range(200):
        store.save(f"old{i}", b"x", expires_at=soon, expected_version=None)
    time.sleep(0.1)
    assert len(store) == 200
    # each write examines a bounded batch of records; a few writes cover them all
    store.save("w0", b"x", expires_at=time.time() + 60, expected_version=None)
    assert 0 < 200 - sum(k.startswith("old") for k in store._data) < 200
    for i in range(1, 8):
        store.save(f"w{i}", b"x", expires_at=time.time() + 60, expected_version=None)
    assert not [k for k in store._data if k.startswith("old")]
    assert len(store) == 8


def test_purge_expired() -> None:
    store = MemoryStore()
    store.save("a", b"x", expires_at=time.time() - 1, expected_version=None)
    store.save("b", b"x", expires_at=time.time() + 60, expected_version=None)
    store.acquire_lock("l", "o", 0.01)
    time.sleep(0.02)
    assert store.purge_expired() == 1
    assert set(store._data) == {"b"}
    assert store._locks == {}


def test_max_items_evicts_expired_then_least_recently_written() -> None:
    store = MemoryStore(max_items=3)
    exp = time.time() + 60
    va = store.save("a", b"a", expires_at=exp, expected_version=None)
    store.save("b", b"b", expires_at=exp, expected_version=None)
    store.save("c", b"c", expires_at=exp, expected_version=None)
    store.save("a", b"a2", expires_at=exp, expected_version=va)  # "a" is now the newest
    store.save("d", b"d", expires_at=exp, expected_version=None)
    assert set(store._data) == {"a", "c", "d"}
    store.save("dead", b"x", expires_at=time.time() - 1, expected_version=None)  # evicts c
    store.save("e", b"e", expires_at=exp, expected_version=None)  # evicts the expired one
    assert set(store._data) == {"a", "d", "e"}


def test_max_items_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_items must be a positive integer"):
        MemoryStore(max_items=0)
