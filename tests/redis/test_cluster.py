"""RedisStore on a real Redis Cluster (three primaries from Debian's redis-server in cluster
mode on loopback ports, joined with ``redis-cli --cluster create``), reached with a
``redis+cluster://`` URL: the store protocol on keys spread over every node, sync and async,
a refresh storm through the middleware with one refresh in all, and sign-ins through the test
IdP on gunicorn and uvicorn whose sessions are shared and signed out across the two."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster

from tests.redis.harness import check_sign_in_shared_and_signed_out, poll, storm_of_hosts, two_hosts
from tests.support.docs import APP
from tests.support.idp import IdP
from tests.support.mock_provider import MockProvider
from tests.support.redis_server import _find_binary, _free_port
from thunderid_mw.stores import RedisStore, store_from_url

NODES = 3
START_WAIT = 90.0  # a loaded machine takes a while to start and join three nodes


def wait_for(ready: Any, what: str = "the Redis servers to come up") -> None:
    """Until ``ready()`` is truthy; a server not answering yet counts as not ready."""
    poll(ready, START_WAIT, interval=0.1, ignore=(redis.RedisError,), what=what)


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary, cli = _find_binary(), shutil.which("redis-cli")
    if binary is None or cli is None:
        pytest.skip("redis-server and redis-cli are needed for a cluster: run make setup")
    workdir = tmp_path_factory.mktemp("redis-cluster")
    ports = [_free_port() for _ in range(NODES)]
    processes = []
    for port in ports:
        node = workdir / str(port)
        node.mkdir()
        processes.append(
            subprocess.Popen(
                [
                    binary, "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    # The bus port defaults to port + 10000, past 65535 for a high free port.
                    "--cluster-port", str(_free_port()),
                    "--save", "", "--appendonly", "no", "--dir", str(node),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    try:
        for port in ports:
            wait_for(lambda port=port: redis.Redis(port=port).ping())
        nodes = [f"127.0.0.1:{p}" for p in ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for(lambda: redis.Redis(port=ports[0]).cluster("info")["cluster_state"] == "ok")
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


KEYS = [f"session-{n}" for n in range(40)]  # enough to land on every node


def test_the_keys_are_spread_over_every_node(cluster_url: str) -> None:
    port = int(cluster_url.rsplit(":", 1)[1])
    client = redis.cluster.RedisCluster(host="127.0.0.1", port=port)
    store = store_from_url(cluster_url + "?prefix=c1:")
    assert isinstance(store, RedisStore)
    try:
        for key in KEYS:
            assert store.save(key, b"v1", expires_at=time.time() + 60, expected_version=None)
        # redis-py leaves RedisCluster.get_node_from_key unannotated.
        nodes = {client.get_node_from_key(f"c1:s:{key}").name for key in KEYS}  # type: ignore[no-untyped-call]
        assert len(nodes) == NODES
    finally:
        store.close()
        client.close()


def test_the_store_protocol_on_a_cluster(cluster_url: str) -> None:
    store = RedisStore(cluster_url, prefix="c2:")
    try:
        for key in KEYS:
            version = store.save(key, b"one", expires_at=time.time() + 60, expected_version=None)
            assert version is not None
            assert store.save(key, b"x", expires_at=time.time() + 60, expected_version=None) is None
            item = store.load(key)
            assert item is not None and item.data == b"one"
            assert store.save(key, b"two", expires_at=time.time() + 60, expected_version=version)
            assert store.acquire_lock("lease-" + key, "me", 5)
            assert not store.acquire_lock("lease-" + key, "you", 5)
            assert store.release_lock("lease-" + key, "me")
            store.delete(key)
            assert store.load(key) is None
    finally:
        store.close()


async def test_the_async_store_protocol_on_a_cluster(cluster_url: str) -> None:
    store = RedisStore(cluster_url, prefix="c3:")
    try:
        for key in KEYS:
            expires = time.time() + 60
            version = await store.asave(key, b"one", expires_at=expires, expected_version=None)
            assert version is not None
            assert (await store.aload(key)) is not None
            assert await store.aacquire_lock("lease-" + key, "me", 5)
            assert not await store.aacquire_lock("lease-" + key, "you", 5)
            assert await store.arelease_lock("lease-" + key, "me")
            await store.adelete(key)
            assert await store.aload(key) is None
    finally:
        await store.aclose()
        store.close()


def test_a_refresh_storm_on_a_cluster_refreshes_once(cluster_url: str) -> None:
    """Two middleware instances (two "hosts") on one cluster; 20 requests of one session
    whose token has expired, at once: one refresh grant in all, every request served."""
    provider = MockProvider("app", "app-secret", access_token_ttl=2)
    first, second = two_hosts(provider, cluster_url + "?prefix=storm:")
    started = first.get("/sign-in", params={"return_to": "/private"})
    done = first.get(provider.authorize(started.headers["location"])[len(APP) :])
    assert done.status_code == 302, done.text
    cookie = dict(first.cookies)
    before = first.get("/private").text
    time.sleep(2.1)  # the access token expires

    answers = storm_of_hosts([first, second], cookie)
    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    assert {a.text for a in answers} != {before}  # the new token was served
    assert provider.calls["/token"] == 2  # the code exchange and exactly one refresh


def test_sign_in_and_a_session_shared_by_two_servers_on_a_cluster(
    cluster_url: str, idp_reset: IdP, tmp_path: Path
) -> None:
    check_sign_in_shared_and_signed_out(idp_reset, cluster_url + "?prefix=share:", tmp_path)
