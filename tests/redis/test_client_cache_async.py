"""RedisStore(client_cache=True) through its async methods (ASGI) on a real redis-server:
the same cache and listener as the sync methods, so an unchanged session is answered in
the process, and a session ended or rotated by another process, or a lost connection, is
never served from before; the cache outlives the event loop that filled it."""

from __future__ import annotations

import asyncio
import time

import redis

from tests.redis.test_client_cache import INVALIDATION_BOUND, _hmget_calls, _in_another_process
from thunderid_mw.stores import RedisStore


async def _warm(store: RedisStore, key: str, url: str) -> None:
    """Read ``key`` until a read no longer reaches the server (fails after 10 s)."""
    raw = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        before = _hmget_calls(raw)
        assert await store.aload(key) is not None
        if _hmget_calls(raw) == before:
            break
        assert time.monotonic() < deadline, "the store never answered from its cache"
        await asyncio.sleep(0.05)
    raw.close()


async def test_an_unchanged_session_is_read_from_the_local_cache(
    cached: RedisStore, redis_url: str
) -> None:
    raw = redis.Redis.from_url(redis_url)
    assert await cached.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
    await _warm(cached, "k", redis_url)
    calls = _hmget_calls(raw)
    for _ in range(20):
        item = await cached.aload("k")
        assert item is not None and item.data == b"one"
    assert _hmget_calls(raw) == calls  # none of the 20 reached the server
    raw.close()
    await cached.aclose()


async def test_a_session_ended_in_another_process_is_refused(
    cached: RedisStore, redis_url: str
) -> None:
    assert await cached.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
    await _warm(cached, "k", redis_url)
    _in_another_process(redis_url, "store.delete('k')")
    await asyncio.sleep(INVALIDATION_BOUND)
    assert await cached.aload("k") is None
    await cached.aclose()


async def test_a_session_rotated_in_another_process_is_read_anew(
    cached: RedisStore, redis_url: str
) -> None:
    version = await cached.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
    assert version is not None
    await _warm(cached, "k", redis_url)
    _in_another_process(
        redis_url,
        f"import time\nassert store.save('k', b'two', expires_at=time.time() + 60, "
        f"expected_version={version})",
    )
    await asyncio.sleep(INVALIDATION_BOUND)
    item = await cached.aload("k")
    assert item is not None and item.data == b"two" and item.version > version
    await cached.aclose()


async def test_a_session_ended_by_this_store_is_not_served(
    cached: RedisStore, redis_url: str
) -> None:
    assert await cached.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
    await _warm(cached, "k", redis_url)
    await cached.adelete("k")
    assert await cached.aload("k") is None  # at once, not after the invalidation
    await cached.aclose()


async def test_a_lost_connection_drops_the_local_cache(cached: RedisStore, redis_url: str) -> None:
    """The server cuts every connection of the store, the listener's too; a change made
    then cannot be announced, so the cache must not answer from before."""
    raw = redis.Redis.from_url(redis_url)
    assert await cached.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
    await _warm(cached, "k", redis_url)
    own = raw.client_id()
    for client in raw.client_list():
        if int(client["id"]) != own:
            raw.client_kill_filter(_id=client["id"])
    raw.delete("thunderid:s:k")  # the session key of "k"
    await asyncio.sleep(INVALIDATION_BOUND)
    assert await cached.aload("k") is None
    raw.close()
    await cached.aclose()


def test_the_cache_serves_a_new_event_loop_and_is_invalidated_there(
    cached: RedisStore, redis_url: str
) -> None:
    """Each ASGI worker or test may run its own loop: the listener belongs to none of
    them, so a read kept under one loop is answered, and invalidated, under the next."""
    raw = redis.Redis.from_url(redis_url)

    async def fill() -> None:
        assert await cached.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
        await _warm(cached, "k", redis_url)
        await cached.aclose()

    async def read() -> bytes | None:
        item = await cached.aload("k")
        await cached.aclose()
        return None if item is None else item.data

    asyncio.run(fill())
    calls = _hmget_calls(raw)
    assert asyncio.run(read()) == b"one"
    assert _hmget_calls(raw) == calls  # answered from the cache the first loop filled
    raw.delete("thunderid:s:k")
    time.sleep(INVALIDATION_BOUND)
    assert asyncio.run(read()) is None
    raw.close()
