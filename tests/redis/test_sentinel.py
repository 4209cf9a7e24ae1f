"""RedisStore behind Redis Sentinel (a primary, a replica and a Sentinel from Debian's
redis-server on loopback ports), reached with a ``redis+sentinel://`` URL: the store
protocol, sync and async; a failover of the primary while a refresh storm from two
middleware instances is in flight (no 500, one refresh grant per expiry); a failover
after which the store finds the new primary by itself, with what was written before; and
sign-ins through the test IdP on gunicorn and uvicorn whose sessions are shared and signed
out across the two."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.redis.harness import check_sign_in_shared_and_signed_out, poll, storm_of_hosts, two_hosts
from tests.support.docs import APP, BROWSER
from tests.support.idp import IdP
from tests.support.mock_provider import MockProvider
from tests.support.redis_server import _find_binary, _free_port
from thunderid_mw.core.errors import ConfigError, StoreUnavailable
from thunderid_mw.stores import RedisStore, store_from_url

SERVICE = "sessions"
WAIT = 90.0  # a loaded machine takes a while to sync a replica and fail over


def wait_for(ready: Any, what: str = "the Redis servers to come up") -> None:
    """Until ``ready()`` is truthy; a server not answering yet counts as not ready."""
    poll(ready, WAIT, interval=0.2, ignore=(redis.RedisError,), what=what)


def sentinel_command(port: int, *args: str) -> Any:
    """``args`` to the Sentinel on ``port``, as redis-py answers them."""
    # redis-py leaves Redis.execute_command unannotated.
    return redis.Redis(port=port).execute_command(*args)  # type: ignore[no-untyped-call]


@dataclass
class SentinelSetUp:
    url: str
    sentinel_port: int
    ports: tuple[int, int]

    def primary_port(self) -> int:
        answer = sentinel_command(
            self.sentinel_port, "SENTINEL", "get-master-addr-by-name", SERVICE
        )
        return int(answer[1])


def _node_dir(workdir: Path, port: int) -> Path:
    """A server's own directory: a full resync writes an RDB file there even with
    ``--save ""``, and a server loads the one it finds at start (not the current
    directory's, which a previous run may have left)."""
    node = workdir / str(port)
    node.mkdir()
    return node


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
        subprocess.Popen(
            [binary, "--port", str(primary), *common, "--dir", str(_node_dir(workdir, primary))],
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                binary,
                "--port",
                str(replica),
                *common,
                "--dir",
                str(_node_dir(workdir, replica)),
                "--replicaof",
                "127.0.0.1",
                str(primary),
            ],
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL),
    ]
    set_up = SentinelSetUp(
        f"redis+sentinel://127.0.0.1:{sentinel_port}/{SERVICE}", sentinel_port, (primary, replica)
    )
    try:

        def link() -> Any:
            return redis.Redis(port=replica).info("replication")["master_link_status"]

        wait_for(lambda: link() == "up", "the replica to follow the primary")
        wait_for(lambda: set_up.primary_port() == primary, "the Sentinel to know the primary")
        wait_for(
            lambda: sentinel_command(sentinel_port, "SENTINEL", "replicas", SERVICE),
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


def test_sign_in_and_a_session_shared_by_two_servers_behind_sentinel(
    sentinel: SentinelSetUp, idp_reset: IdP, tmp_path: Path
) -> None:
    check_sign_in_shared_and_signed_out(idp_reset, sentinel.url + "?prefix=share:", tmp_path)


def test_a_failover_during_a_refresh_storm(sentinel: SentinelSetUp) -> None:
    """A session's token expires; 20 requests from two hosts at once while the Sentinel
    fails the primary over to the replica. No request gets a 500 (a request that meets the
    switch may get a 503), the provider sees one refresh, the session is served by the new
    primary, and its next expiry costs one grant again."""
    provider = MockProvider("app", "app-secret", access_token_ttl=2)
    first, second = two_hosts(provider, sentinel.url + "?prefix=storm:")
    started = first.get("/sign-in", params={"return_to": "/private"})
    done = first.get(provider.authorize(started.headers["location"])[len(APP) :])
    assert done.status_code == 302, done.text
    cookie = dict(first.cookies)
    before = first.get("/private", headers=BROWSER).text
    old_primary = sentinel.primary_port()
    time.sleep(2.1)  # the access token expires

    def failover() -> None:
        # Until the Sentinel has judged the replica fit, it answers NOGOODSLAVE: ask again.
        wait_for(
            lambda: sentinel_command(sentinel.sentinel_port, "SENTINEL", "FAILOVER", SERVICE),
            "the Sentinel to accept the failover",
        )

    answers = storm_of_hosts([first, second], cookie, failover)
    assert {a.status_code for a in answers} <= {200, 503}, [a.status_code for a in answers]
    wait_for(lambda: sentinel.primary_port() != old_primary, "the failover")
    wait_for(
        lambda: redis.Redis(port=sentinel.primary_port()).info("replication")["role"] == "master",
        "the new primary to take over",
    )
    wait_for(
        lambda: first.get("/private", headers=BROWSER).status_code == 200,
        "a 200 after the failover",
    )
    after = first.get("/private", headers=BROWSER)
    assert after.status_code == 200 and after.text != before  # signed in, refreshed token
    assert provider.calls["/token"] == 2  # the code exchange and exactly one refresh

    # The refreshed token expires too: a storm on the new primary refreshes once more. A
    # refresh saved on the old primary in the instant after the promotion is lost (the
    # documented window): then the one refresh presents the previous refresh token, the
    # provider refuses it and every request is sent to sign in; either way one grant.
    time.sleep(2.1)
    answers = storm_of_hosts([first, second], cookie, lambda: None)
    statuses = {a.status_code for a in answers}
    assert statuses in ({200}, {302}), [a.status_code for a in answers]
    assert provider.calls["/token"] == 3


def test_after_a_failover_the_store_finds_the_new_primary(sentinel: SentinelSetUp) -> None:
    store = RedisStore(sentinel.url, prefix="s3:")
    try:
        before = sentinel.primary_port()
        version = store.save("kept", b"before", expires_at=time.time() + 600, expected_version=None)
        assert version is not None
        # Wait until the replica has it, as a failover with AOF and a synced replica would.
        wait_for(
            lambda: redis.Redis(port=next(p for p in sentinel.ports if p != before)).exists(
                "s3:s:kept"
            ),
            "the write to reach the replica",
        )
        # Until the Sentinel has judged the replica fit, it answers NOGOODSLAVE: ask again.
        wait_for(
            lambda: sentinel_command(sentinel.sentinel_port, "SENTINEL", "FAILOVER", SERVICE),
            "the Sentinel to accept the failover",
        )
        wait_for(lambda: sentinel.primary_port() != before, "the failover")

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
