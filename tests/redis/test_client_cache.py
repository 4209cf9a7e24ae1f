"""RedisStore(client_cache=True) on a real redis-server: repeated reads of an unchanged
session are answered in the process (no HMGET reaches the server), and a session ended or
rotated by another process, or a lost connection, is never served from the local cache."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis

from thunderid_mw.core.errors import ConfigError
from thunderid_mw.stores import RedisStore, store_from_url

INVALIDATION_BOUND = 1.0  # seconds, the documented bound (loopback delivers in far less)


def _hmget_calls(raw: redis.Redis) -> int:
    stats = raw.info("commandstats").get("cmdstat_hmget", {})
    return int(stats.get("calls", 0))


def _in_another_process(url: str, code: str) -> None:
    """Run ``code`` with ``store`` = a RedisStore on ``url`` in a fresh Python process."""
    program = f"from thunderid_mw.stores import RedisStore\nstore = RedisStore({url!r})\n{code}"
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)


def _warm(store: RedisStore, key: str, url: str) -> None:
    """Read ``key`` until a read no longer reaches the server: the listener has started and
    the store's connections track what they read (bounded: fails after 10 s)."""
    raw = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        before = _hmget_calls(raw)
        assert store.load(key) is not None
        if _hmget_calls(raw) == before:
            break
        assert time.monotonic() < deadline, "the store never answered from its cache"
        time.sleep(0.05)
    raw.close()


def test_an_unchanged_session_is_read_from_the_local_cache(
    cached: RedisStore, redis_url: str
) -> None:
    raw = redis.Redis.from_url(redis_url)
    assert cached.save("k", b"one", expires_at=time.time() + 60, expected_version=None)
    _warm(cached, "k", redis_url)
    calls = _hmget_calls(raw)
    for _ in range(20):
        item = cached.load("k")
        assert item is not None and item.data == b"one"
    assert _hmget_calls(raw) == calls  # none of the 20 reached the server
    raw.close()


def test_a_session_ended_in_another_process_is_refused(cached: RedisStore, redis_url: str) -> None:
    assert cached.save("k", b"one", expires_at=time.time() + 60, expected_version=None)
    _warm(cached, "k", redis_url)
    _in_another_process(redis_url, "store.delete('k')")
    time.sleep(INVALIDATION_BOUND)
    assert cached.load("k") is None


def test_a_session_rotated_in_another_process_is_read_anew(
    cached: RedisStore, redis_url: str
) -> None:
    version = cached.save("k", b"one", expires_at=time.time() + 60, expected_version=None)
    assert version is not None
    _warm(cached, "k", redis_url)
    _in_another_process(
        redis_url,
        f"import time\nassert store.save('k', b'two', expires_at=time.time() + 60, "
        f"expected_version={version})",
    )
    time.sleep(INVALIDATION_BOUND)
    item = cached.load("k")
    assert item is not None and item.data == b"two" and item.version > version


def test_a_lost_connection_drops_the_local_cache(cached: RedisStore, redis_url: str) -> None:
    """The server cuts the store's connections, the listener's too; a change made then
    cannot be announced, so the cache must not answer from before."""
    raw = redis.Redis.from_url(redis_url)
    assert cached.save("k", b"one", expires_at=time.time() + 60, expected_version=None)
    _warm(cached, "k", redis_url)
    own = raw.client_id()
    for client in raw.client_list():
        if int(client["id"]) != own:
            raw.client_kill_filter(_id=client["id"])
    raw.delete("thunderid:s:k")  # the session key of "k"
    time.sleep(INVALIDATION_BOUND)
    assert cached.load("k") is None
    raw.close()


def test_client_cache_needs_a_single_server() -> None:
    with pytest.raises(ValueError, match="single Redis server"):
        RedisStore("redis+cluster://127.0.0.1:7000", client_cache=True)
    with pytest.raises(ValueError, match="single Redis server"):
        RedisStore("redis+sentinel://127.0.0.1:26379/sessions", client_cache=True)


def test_a_store_url_turns_the_client_cache_on(redis_url: str) -> None:
    store = store_from_url(redis_url + "?client_cache=yes&prefix=u:")
    assert isinstance(store, RedisStore)
    try:
        assert store._cache is not None and store.prefix == "u:"
    finally:
        store.close()
    plain = store_from_url(redis_url + "?client_cache=no")
    assert isinstance(plain, RedisStore) and plain._cache is None


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0?client_cache=maybe",
        "redis+cluster://127.0.0.1:7000?client_cache=yes",
    ],
)
def test_a_bad_client_cache_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="client_cache"):
        store_from_url(url)


def test_a_forked_worker_listens_for_itself(cached: RedisStore, redis_url: str) -> None:
    """gunicorn forks workers from a master that may have made the store: the child has
    the parent's cache but not its listener thread, and must not serve from it."""
    import os

    assert cached.save("k", b"one", expires_at=time.time() + 60, expected_version=None)
    _warm(cached, "k", redis_url)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: end the session elsewhere, then read it here
        try:
            raw = redis.Redis.from_url(redis_url)
            raw.delete("thunderid:s:k")
            time.sleep(INVALIDATION_BOUND)
            os.write(write, b"gone" if cached.load("k") is None else b"stale")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"gone"
