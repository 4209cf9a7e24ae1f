"""Fixtures of the Redis tests (``pair``, ``raw_redis``, ``private_redis``, ``cached``);
their helpers are in harness.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.redis.harness import PAIR_PREFIX, Pair, PrivateRedis, start_pair
from tests.support.idp import IdP
from tests.support.redis_server import RedisServer, _find_binary
from thunderid_mw.stores import RedisStore


@pytest.fixture
def raw_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain redis-py client on the session Redis server, to look inside."""
    if not redis_server.running:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture(scope="package")
def pair(
    idp: IdP, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    if not redis_server.running:
        redis_server.start()
    store_url = f"{redis_server.url}?prefix={PAIR_PREFIX}"
    wsgi, asgi = start_pair(
        idp,
        store_url,
        tmp_path_factory.mktemp("redis-pair"),
        wsgi_workers=4,
        asgi_workers=2,
        THUNDERID_REFRESH_LEEWAY="0",
    )
    try:
        yield Pair(wsgi, asgi, store_url, PAIR_PREFIX)
    finally:
        wsgi.stop()
        asgi.stop()


@pytest.fixture
def private_redis() -> Iterator[Callable[..., PrivateRedis]]:
    """``private_redis(directory, unix_socket=None, tls=None)``: started; stopped after."""
    binary = _find_binary()
    if binary is None:
        pytest.fail("redis-server is not installed: run `make setup`", pytrace=False)
    made: list[PrivateRedis] = []

    def make(directory: Path, **kwargs: Any) -> PrivateRedis:
        server = PrivateRedis(binary, directory, **kwargs)
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def cached(redis_url: str) -> Iterator[RedisStore]:
    """A ``RedisStore(client_cache=True)`` on the session Redis server; closed after."""
    store = RedisStore(redis_url, client_cache=True)
    yield store
    store.close()
