"""RedisStore specifics: key layout, TTLs, expiry, and a server that stops or stalls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from thunderid_mw.core.errors import StoreUnavailable
from thunderid_mw.stores import RedisStore
from thunderid_mw.stores.base import SessionStore

from ..support.redis_server import RedisServer


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_keys_carry_the_prefix_and_a_ttl(redis_url: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url, prefix="app1:")
    store.save("abc", b"data", expires_at=time.time() + 30, expected_version=None)
    store.acquire_lock("abc", "owner-1", 5)
    assert sorted(raw.keys("*")) == [b"app1:l:abc", b"app1:s:abc"]
    assert 29_000 < raw.pttl("app1:s:abc") <= 30_001
    assert 4_000 < raw.pttl("app1:l:abc") <= 5_001
    assert raw.get("app1:l:abc") == b"owner-1"
    assert raw.hget("app1:s:abc", "d") == b"data"
    store.close()


def test_prefixes_separate_stores(redis_url: str) -> None:
    a, b = RedisStore(redis_url, prefix="a:"), RedisStore(redis_url, prefix="b:")
    a.save("k", b"A", expires_at=time.time() + 30, expected_version=None)
    assert b.load("k") is None
    assert b.acquire_lock("k", "o", 5)
    assert a.acquire_lock("k", "o", 5)
    a.close()
    b.close()


def test_ttl_follows_each_save(redis_url: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url, prefix="p:")
    v = store.save("k", b"x", expires_at=time.time() + 5, expected_version=None)
    store.save("k", b"y", expires_at=time.time() + 100, expected_version=v)
    assert 99_000 < raw.pttl("p:s:k") <= 100_001
    store.close()


def test_redis_removes_expired_keys_itself(redis_url: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url)
    for i in range(5):
        store.save(f"k{i}", b"x", expires_at=time.time() + 1.0, expected_version=None)
    store.acquire_lock("L", "o", 1.0)
    assert raw.dbsize() == 6
    # DBSIZE counts keys still in memory: no read of ours triggers a lazy expiry here
    deadline = time.monotonic() + 5
    while raw.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert raw.dbsize() == 0
    store.close()


def test_clients_are_created_lazily() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")  # nothing listens there
    assert store._sync is None
    store.close()


def test_given_clients_are_used_and_not_closed(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client=client, prefix="given:")
    store.save("k", b"x", expires_at=time.time() + 30, expected_version=None)
    store.close()
    assert client.exists("given:s:k") == 1  # still usable
    client.close()


async def test_given_async_client(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    store = RedisStore(async_client=client, prefix="given:")
    await store.asave("k", b"x", expires_at=time.time() + 30, expected_version=None)
    await store.aclose()
    assert await client.exists("given:s:k") == 1
    await client.aclose()


def test_async_clients_per_event_loop(redis_url: str) -> None:
    store = RedisStore(redis_url)

    async def roundtrip(key: str) -> bytes | None:
        try:
            await store.asave(key, b"v", expires_at=time.time() + 30, expected_version=None)
            item = await store.aload(key)
            return item.data if item else None
        finally:
            await store.aclose()

    # one store, used from two event loops in turn (as pytest-asyncio does per test)
    assert asyncio.run(roundtrip("a")) == b"v"
    assert asyncio.run(roundtrip("b")) == b"v"
    assert store._async == {}

    # a loop that closed without aclose() is forgotten when another loop comes
    async def touch() -> None:
        store._async_bundle()  # a client made, no connection opened

    asyncio.run(touch())
    assert len(store._async) == 1
    asyncio.run(roundtrip("c"))
    assert store._async == {}
    store.close()


def test_password_is_not_shown() -> None:
    store = RedisStore("redis://user:s3cret@127.0.0.1:1/0", socket_timeout=0.2)
    assert "s3cret" not in repr(store)
    with pytest.raises(StoreUnavailable) as info:
        store.load("k")
    assert "s3cret" not in str(info.value)
    store.close()


# -- a server that is down or stalls ----------------------------------------------------


def _ops(store: SessionStore) -> list[object]:
    exp = time.time() + 30
    return [
        lambda: store.load("k"),
        lambda: store.save("k", b"x", expires_at=exp, expected_version=None),
        lambda: store.save("k", b"x", expires_at=exp, expected_version=1),
        lambda: store.delete("k"),
        lambda: store.acquire_lock("L", "o", 5),
        lambda: store.release_lock("L", "o"),
    ]


def _aops(store: SessionStore) -> list[object]:
    exp = time.time() + 30
    return [
        lambda: store.aload("k"),
        lambda: store.asave("k", b"x", expires_at=exp, expected_version=None),
        lambda: store.asave("k", b"x", expires_at=exp, expected_version=1),
        lambda: store.adelete("k"),
        lambda: store.aacquire_lock("L", "o", 5),
        lambda: store.arelease_lock("L", "o"),
    ]


def test_server_down_then_back(redis_server: RedisServer, redis_url: str) -> None:
    store = RedisStore(redis_url, socket_timeout=1.0)
    assert store.save("k", b"x", expires_at=time.time() + 30, expected_version=None)
    redis_server.stop()
    try:
        t0 = time.monotonic()
        for op in _ops(store):
            with pytest.raises(StoreUnavailable) as info:
                op()  # type: ignore[operator]
            assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)
        assert time.monotonic() - t0 < 1.0  # refused at once, no retry storm
    finally:
        redis_server.start()
    # the pooled connections died with the server; the store reconnects by itself
    assert store.load("k") is None  # no persistence: the data went with the server
    assert store.save("k", b"y", expires_at=time.time() + 30, expected_version=None)
    assert store.load("k").data == b"y"  # type: ignore[union-attr]
    store.close()


async def test_server_down_then_back_async(redis_server: RedisServer, redis_url: str) -> None:
    store = RedisStore(redis_url, socket_timeout=1.0)
    try:
        assert await store.asave("k", b"x", expires_at=time.time() + 30, expected_version=None)
        redis_server.stop()
        try:
            for op in _aops(store):
                with pytest.raises(StoreUnavailable) as info:
                    await op()  # type: ignore[operator]
                assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)
        finally:
            redis_server.start()
        assert await store.aload("k") is None
        assert await store.asave("k", b"y", expires_at=time.time() + 30, expected_version=None)
        assert (await store.aload("k")).data == b"y"  # type: ignore[union-attr]
    finally:
        await store.aclose()


def test_paused_server_times_out(redis_server: RedisServer, redis_url: str) -> None:
    store = RedisStore(redis_url, socket_timeout=0.2)
    assert store.save("k", b"x", expires_at=time.time() + 30, expected_version=None)
    redis_server.pause(2000)
    try:
        for op in _ops(store)[:2] + _ops(store)[4:5]:
            t0 = time.monotonic()
            with pytest.raises(StoreUnavailable) as info:
                op()  # type: ignore[operator]
            assert time.monotonic() - t0 < 0.8  # one timeout, not retried, not a hang
            assert isinstance(info.value.__cause__, redis.exceptions.TimeoutError)
    finally:
        redis_server.end_pause()
    assert store.save("k2", b"x", expires_at=time.time() + 30, expected_version=None)
    store.close()


async def test_paused_server_times_out_async(redis_server: RedisServer, redis_url: str) -> None:
    store = RedisStore(redis_url, socket_timeout=0.2)
    try:
        assert await store.asave("k", b"x", expires_at=time.time() + 30, expected_version=None)
        redis_server.pause(2000)
        try:
            for op in _aops(store)[:2] + _aops(store)[4:5]:
                t0 = time.monotonic()
                with pytest.raises(StoreUnavailable):
                    await op()  # type: ignore[operator]
                assert time.monotonic() - t0 < 0.8
        finally:
            redis_server.end_pause()
        assert await store.asave("k2", b"x", expires_at=time.time() + 30, expected_version=None)
    finally:
        await store.aclose()
