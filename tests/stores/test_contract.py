"""The SessionStore contract (stores/base.py), on every store with its real backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from thunderid_mw.stores.base import SessionStore, StoredItem

from .conftest import Backend

TTL = 60.0
SHORT = 0.1  # a lifetime that lapses during the test
LONGER_TRIES = (SHORT, 0.5, 2.5)  # for checks that must see it still live
T = TypeVar("T")


def later(seconds: float = TTL) -> float:
    return time.time() + seconds


def while_live(step: Callable[[float], T]) -> tuple[T, float]:
    """Run `step(lifetime)`, which gives a record or lease a short lifetime and observes it
    still live; return what it observed and a moment by which the lifetime has surely ended.

    The lifetime starts during the step, so an observation made before `lifetime` has
    passed since the step began saw it live. On a loaded machine (SQLite's fsync under the
    parallel suite) the step can take longer than that, and what it saw then proves nothing
    either way: the step is run again with a longer lifetime, so the check is never decided
    by the clock. The step must start by undoing what an earlier try of it may have left."""
    for lifetime in LONGER_TRIES:
        began = time.time()
        seen = step(lifetime)
        done = time.time()
        if done < began + lifetime:
            return seen, done + lifetime
    pytest.fail(f"each step outlasted its lifetime, even {LONGER_TRIES[-1]} s")


def sleep_past(ends: float) -> None:
    time.sleep(max(0.0, ends - time.time()) + 0.05)


async def awhile_live(step: Callable[[float], Awaitable[T]]) -> tuple[T, float]:
    """`while_live` for an async step."""
    for lifetime in LONGER_TRIES:
        began = time.time()
        seen = await step(lifetime)
        done = time.time()
        if done < began + lifetime:
            return seen, done + lifetime
    pytest.fail(f"each step outlasted its lifetime, even {LONGER_TRIES[-1]} s")


def test_is_a_session_store(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)


# -- load / create / compare-and-set ---------------------------------------------------


def test_load_missing(store: SessionStore) -> None:
    assert store.load("missing") is None


def test_create_then_load(store: SessionStore) -> None:
    exp = later()
    v = store.save("k", b"hello", expires_at=exp, expected_version=None)
    assert isinstance(v, int)
    item = store.load("k")
    assert isinstance(item, StoredItem)
    assert (item.data, item.version) == (b"hello", v)
    assert item.expires_at == pytest.approx(exp, abs=1e-3)


def test_opaque_bytes_round_trip(store: SessionStore) -> None:
    blob = bytes(range(256)) * 40  # every byte value, ~10 kB
    store.save("bin", blob, expires_at=later(), expected_version=None)
    store.save("empty", b"", expires_at=later(), expected_version=None)
    assert store.load("bin").data == blob  # type: ignore[union-attr]
    assert store.load("empty").data == b""  # type: ignore[union-attr]


def test_create_if_absent_refuses_a_live_record(store: SessionStore) -> None:
    v = store.save("k", b"first", expires_at=later(), expected_version=None)
    assert store.save("k", b"second", expires_at=later(), expected_version=None) is None
    item = store.load("k")
    assert item is not None and (item.data, item.version) == (b"first", v)


def test_expired_record_loads_as_none(store: SessionStore) -> None:
    def save_and_load(lifetime: float) -> StoredItem | None:
        store.delete("k")
        store.save("k", b"x", expires_at=later(lifetime), expected_version=None)
        return store.load("k")

    item, ends = while_live(save_and_load)
    assert item is not None
    sleep_past(ends)
    assert store.load("k") is None


def test_record_saved_already_expired_loads_as_none(store: SessionStore) -> None:
    store.save("k", b"x", expires_at=time.time() - 1, expected_version=None)
    assert store.load("k") is None


def test_create_replaces_an_expired_record_with_a_higher_version(store: SessionStore) -> None:
    v1 = store.save("k", b"old", expires_at=later(SHORT), expected_version=None)
    assert v1 is not None
    time.sleep(SHORT + 0.05)
    v2 = store.save("k", b"new", expires_at=later(), expected_version=None)
    assert v2 is not None and v2 > v1
    assert store.load("k").data == b"new"  # type: ignore[union-attr]


def test_cas_success_returns_a_higher_version(store: SessionStore) -> None:
    v1 = store.save("k", b"one", expires_at=later(), expected_version=None)
    assert v1 is not None
    exp = later(120)
    v2 = store.save("k", b"two", expires_at=exp, expected_version=v1)
    assert v2 is not None and v2 > v1
    item = store.load("k")
    assert item is not None
    assert (item.data, item.version) == (b"two", v2)
    assert item.expires_at == pytest.approx(exp, abs=1e-3)
    v3 = store.save("k", b"three", expires_at=exp, expected_version=v2)
    assert v3 is not None and v3 > v2


def test_cas_with_a_stale_version_fails_and_changes_nothing(store: SessionStore) -> None:
    v1 = store.save("k", b"one", expires_at=later(), expected_version=None)
    assert v1 is not None
    v2 = store.save("k", b"two", expires_at=later(), expected_version=v1)
    assert v2 is not None
    before = store.load("k")
    assert store.save("k", b"lost", expires_at=later(), expected_version=v1) is None
    assert store.load("k") == before


def test_cas_on_a_missing_record_fails(store: SessionStore) -> None:
    assert store.save("nope", b"x", expires_at=later(), expected_version=1) is None
    assert store.load("nope") is None


def test_cas_on_an_expired_record_fails(store: SessionStore) -> None:
    v = store.save("k", b"x", expires_at=later(SHORT), expected_version=None)
    time.sleep(SHORT + 0.05)
    assert store.save("k", b"y", expires_at=later(), expected_version=v) is None
    assert store.load("k") is None


def test_delete(store: SessionStore) -> None:
    store.save("k", b"x", expires_at=later(), expected_version=None)
    store.delete("k")
    assert store.load("k") is None
    store.delete("k")  # deleting nothing is fine


def test_versions_grow_across_delete_and_recreate(store: SessionStore) -> None:
    v1 = store.save("k", b"a", expires_at=later(), expected_version=None)
    assert v1 is not None
    store.delete("k")
    v2 = store.save("k", b"b", expires_at=later(), expected_version=None)
    assert v2 is not None and v2 > v1
    # a writer holding the first record's version cannot overwrite the new one (no ABA)
    assert store.save("k", b"stale", expires_at=later(), expected_version=v1) is None


def test_keys_are_independent(store: SessionStore) -> None:
    store.save("a", b"A", expires_at=later(), expected_version=None)
    store.save("b", b"B", expires_at=later(), expected_version=None)
    store.delete("a")
    assert store.load("a") is None
    assert store.load("b").data == b"B"  # type: ignore[union-attr]


# -- locks ----------------------------------------------------------------------------


def test_lock_acquire_contention_release(store: SessionStore) -> None:
    assert store.acquire_lock("L", "alice", 10) is True
    assert store.acquire_lock("L", "bob", 10) is False
    assert store.acquire_lock("L", "alice", 10) is True  # the holder renews its lease
    assert store.release_lock("L", "bob") is False  # not bob's
    assert store.acquire_lock("L", "bob", 10) is False  # still alice's
    assert store.release_lock("L", "alice") is True
    assert store.release_lock("L", "alice") is False  # already released
    assert store.acquire_lock("L", "bob", 10) is True
    assert store.acquire_lock("other", "carol", 10) is True  # names are independent
    assert store.release_lock("L", "bob") is True
    assert store.release_lock("other", "carol") is True


def test_release_unknown_lock(store: SessionStore) -> None:
    assert store.release_lock("never", "nobody") is False


def test_lapsed_lease_is_taken_over_and_fenced(store: SessionStore) -> None:
    def lease_then_contend(lifetime: float) -> tuple[bool, bool]:
        store.release_lock("L", "new")  # won by "new" if a slow first try let the lease lapse
        return store.acquire_lock("L", "old", lifetime), store.acquire_lock("L", "new", 10)

    (taken, contended), ends = while_live(lease_then_contend)
    assert (taken, contended) == (True, False)
    sleep_past(ends)
    assert store.acquire_lock("L", "new", 10) is True
    # the old owner wakes up and releases: it must not free the new owner's lease
    assert store.release_lock("L", "old") is False
    assert store.acquire_lock("L", "third", 10) is False
    assert store.release_lock("L", "new") is True
    assert store.acquire_lock("L", "third", 10) is True


def test_renewal_keeps_the_lease_and_is_fenced(store: SessionStore) -> None:
    """A refresh still waiting for the provider renews its lease, so nobody takes it over;
    once it has lapsed and another owner holds it, renewal fails (fencing)."""
    assert store.acquire_lock("L", "holder", SHORT) is True
    assert store.acquire_lock("L", "holder", 10) is True
    time.sleep(SHORT + 0.05)
    assert store.acquire_lock("L", "sibling", 10) is False
    assert store.release_lock("L", "holder") is True
    assert store.acquire_lock("L", "late", SHORT) is True
    time.sleep(SHORT + 0.05)
    assert store.acquire_lock("L", "sibling", 10) is True
    assert store.acquire_lock("L", "late", 10) is False
    assert store.release_lock("L", "sibling") is True


def test_lapsed_lease_release_by_its_owner_reports_false(store: SessionStore) -> None:
    assert store.acquire_lock("L", "me", SHORT) is True
    time.sleep(SHORT + 0.05)
    assert store.release_lock("L", "me") is False
    assert store.acquire_lock("L", "you", 10) is True


# -- async twins ----------------------------------------------------------------------


async def test_async_twins(store: SessionStore) -> None:
    try:
        assert await store.aload("k") is None
        v1 = await store.asave("k", b"one", expires_at=later(), expected_version=None)
        assert v1 is not None
        assert await store.asave("k", b"dup", expires_at=later(), expected_version=None) is None
        v2 = await store.asave("k", b"two", expires_at=later(), expected_version=v1)
        assert v2 is not None and v2 > v1
        assert await store.asave("k", b"stale", expires_at=later(), expected_version=v1) is None
        item = await store.aload("k")
        assert item is not None and (item.data, item.version) == (b"two", v2)
        assert store.load("k") == item  # the sync and async paths see the same data
        await store.adelete("k")
        assert await store.aload("k") is None

        async def lease_then_contend(lifetime: float) -> tuple[bool, bool]:
            await store.arelease_lock("L", "b")  # see the sync test
            return (
                await store.aacquire_lock("L", "a", lifetime),
                await store.aacquire_lock("L", "b", 10),
            )

        (taken, contended), ends = await awhile_live(lease_then_contend)
        assert (taken, contended) == (True, False)
        await _asleep(max(0.0, ends - time.time()) + 0.05)
        assert await store.aacquire_lock("L", "b", 10) is True
        assert await store.arelease_lock("L", "a") is False
        assert await store.arelease_lock("L", "b") is True
        assert await store.aacquire_lock("L", "c", 10) is True
    finally:
        await store.aclose()


async def test_async_expired_loads_as_none(store: SessionStore) -> None:
    try:
        await store.asave("k", b"x", expires_at=later(SHORT), expected_version=None)
        await _asleep(SHORT + 0.05)
        assert await store.aload("k") is None
    finally:
        await store.aclose()


async def _asleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


# -- concurrency ----------------------------------------------------------------------


def increment(store: SessionStore, key: str, times: int) -> int:
    """Add 1 to the counter ``key`` ``times`` times by load + compare-and-set; return the
    number of lost races."""
    lost = 0
    for _ in range(times):
        while True:
            item = store.load(key)
            assert item is not None
            n = int(item.data)
            if store.save(key, b"%d" % (n + 1), expires_at=later(), expected_version=item.version):
                break
            lost += 1
    return lost


def test_16_threads_increment_a_counter(store: SessionStore) -> None:
    store.save("counter", b"0", expires_at=later(), expected_version=None)
    threads, per_thread = 16, 25
    errors: list[BaseException] = []

    def work() -> None:
        try:
            increment(store, "counter", per_thread)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert not errors
    assert store.load("counter").data == b"%d" % (threads * per_thread)  # type: ignore[union-attr]


def test_16_threads_one_lock_holder_at_a_time(store: SessionStore) -> None:
    holders: list[str] = []
    active = 0
    overlap = False
    guard = threading.Lock()

    def work(owner: str) -> None:
        nonlocal active, overlap
        for _ in range(5):
            while not store.acquire_lock("L", owner, 10):
                time.sleep(0.001)
            with guard:
                active += 1
                overlap = overlap or active > 1
            holders.append(owner)
            time.sleep(0.001)
            with guard:
                active -= 1
            assert store.release_lock("L", owner)

    pool = [threading.Thread(target=work, args=(f"o{i}",)) for i in range(16)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert len(holders) == 80
    assert not overlap


# -- expired data really leaves the backend --------------------------------------------


def test_expired_records_and_leases_are_removed(backend: Backend) -> None:
    store = backend.store
    for i in range(5):
        store.save(f"gone{i}", b"x", expires_at=later(SHORT), expected_version=None)
    store.save("kept", b"x", expires_at=later(), expected_version=None)
    store.acquire_lock("gone-lock", "o", SHORT)
    store.acquire_lock("kept-lock", "o", 10)
    assert {f"gone{i}" for i in range(5)} <= backend.raw_keys()
    time.sleep(SHORT + 0.05)
    if backend.name != "redis":
        store.purge_expired()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 3  # Redis expires keys itself, in the background
    while backend.raw_keys() != {"kept"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.raw_keys() == {"kept"}
    assert backend.raw_locks() == {"kept-lock"}
