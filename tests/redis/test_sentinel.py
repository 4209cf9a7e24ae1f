"""RedisStore behind Redis Sentinel (a primary, a replica and a Sentinel from Debian's
redis-server on loopback ports), reached with a ``redis+sentinel://`` URL: the store
protocol, sync and async, and a failover of the primary — after it the store finds the new
primary by itself, and what was written before is still there."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from tests.support.redis_server import _find_binary, _free_port
from thunderid_mw.core.errors import ConfigError, StoreUnavailable
from thunderid_mw.stores import RedisStore, store_from_url

SERVICE = "sessions"
WAIT = 40.0


@dataclass
class SentinelSetUp:
    url: str
    sentinel_port: int
    ports: tuple[int, int]

    def primary_port(self) -> int:
        answer = redis.Redis(port=self.sentinel_port).execute_command(
            "SENTINEL", "get-master-addr-by-name", SERVICE
        )
        return int(answer[1])


def _wait(ready: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            if ready():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetUp]:
    binary = _find_binary()
    if binary is None:
        pytest.skip("redis-server is needed for Sentinel: run make setup")
    workdir = tmp_path_factory.mktemp("redis-sentinel")
    primary, replica, sentinel_port = _free_port(), _free_port(), _free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    conf = workdir / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {workdir}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
        f"sentinel failover-timeout {SERVICE} 5000\n"
    )
    processes = [
        subprocess.Popen([binary, "--port", str(primary), *common], stdout=subprocess.DEVNULL),
        subprocess.Popen(
            [binary, "--port", str(replica), *common, "--replicaof", "127.0.0.1", str(primary)],
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL),
    ]
    set_up = SentinelSetUp(
        f"redis+sentinel://127.0.0.1:{sentinel_port}/{SERVICE}", sentinel_port, (primary, replica)
    )
    try:
        _wait(lambda: redis.Redis(port=replica).info("replication")["master_link_status"] == "up",
              "the replica to follow the primary")  # fmt: skip
        _wait(lambda: set_up.primary_port() == primary, "the Sentinel to know the primary")
        _wait(
            lambda: redis.Redis(port=sentinel_port).execute_command(
                "SENTINEL", "replicas", SERVICE
            ),
            "the Sentinel to see the replica",
        )
        yield set_up
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_the_store_protocol_behind_sentinel(sentinel: SentinelSetUp) -> None:
    store = store_from_url(sentinel.url + "?prefix=s1:")
    assert isinstance(store, RedisStore)
    try:
        version = store.save("k", b"one", expires_at=time.time() + 60, expected_version=None)
        assert version is not None
        item = store.load("k")
        assert item is not None and item.data == b"one"
        assert store.acquire_lock("lease", "me", 5) and not store.acquire_lock("lease", "you", 5)
        assert store.release_lock("lease", "me")
    finally:
        store.close()


async def test_the_async_store_protocol_behind_sentinel(sentinel: SentinelSetUp) -> None:
    store = RedisStore(sentinel.url, prefix="s2:")
    try:
        assert await store.asave("k", b"one", expires_at=time.time() + 60, expected_version=None)
        item = await store.aload("k")
        assert item is not None and item.data == b"one"
    finally:
        await store.aclose()
        store.close()


def test_after_a_failover_the_store_finds_the_new_primary(sentinel: SentinelSetUp) -> None:
    store = RedisStore(sentinel.url, prefix="s3:")
    try:
        before = sentinel.primary_port()
        version = store.save("kept", b"before", expires_at=time.time() + 600, expected_version=None)
        assert version is not None
        # Wait until the replica has it, as a failover with AOF and a synced replica would.
        _wait(
            lambda: redis.Redis(port=next(p for p in sentinel.ports if p != before)).exists(
                "s3:s:kept"
            ),
            "the write to reach the replica",
        )
        # Until the Sentinel has judged the replica fit, it answers NOGOODSLAVE: ask again.
        _wait(
            lambda: redis.Redis(port=sentinel.sentinel_port).execute_command(
                "SENTINEL", "FAILOVER", SERVICE
            ),
            "the Sentinel to accept the failover",
        )
        _wait(lambda: sentinel.primary_port() != before, "the failover")

        deadline = time.monotonic() + WAIT
        while True:  # the first calls may meet the old primary going read-only
            try:
                after = store.save(
                    "kept", b"after", expires_at=time.time() + 600, expected_version=version
                )
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store never found the new primary"
                time.sleep(0.2)
        assert after is not None  # the record from before the failover was there, unchanged
        item = store.load("kept")
        assert item is not None and item.data == b"after"
    finally:
        store.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service
        "redis+sentinel://127.0.0.1/sessions",  # no port
        "redis+sentinel://127.0.0.1:26379/sessions/zero",  # not a database number
    ],
)
def test_a_malformed_sentinel_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="redis\\+sentinel"):
        store_from_url(url)


def test_the_password_does_not_show_in_a_repr() -> None:
    store = RedisStore("redis+sentinel://:s3cret@127.0.0.1:26379/sessions")
    assert "s3cret" not in repr(store)
