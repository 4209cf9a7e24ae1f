"""Concurrent first requests of a fresh worker fetch the provider's discovery document
once and share it (single-flight per process), under both middlewares."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support.fuzz import APP, ISSUER, SECRET, mock_provider
from thunderid_mw import (
    AsyncThunderIDClient,
    ThunderIDASGIMiddleware,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.asgi import Message
from thunderid_mw.stores import MemoryStore

REQUESTS = 50


class CountingProvider:
    """The mock provider, slow enough that the first requests overlap; counts fetches."""

    def __init__(self) -> None:
        self.discovery = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            with self._lock:
                self.discovery += 1
            time.sleep(0.2)
        return mock_provider(request)

    async def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            self.discovery += 1
            await asyncio.sleep(0.2)
        return mock_provider(request)


def _config() -> ThunderIDConfig:
    return ThunderIDConfig(
        client_id="app",
        base_url=ISSUER,
        after_sign_in_url=APP + "/callback",
        secret=SECRET,
        store=MemoryStore(),
    )


def _environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/sign-in", "QUERY_STRING": ""}


def test_wsgi_fetches_discovery_once_for_concurrent_first_requests() -> None:
    provider = CountingProvider()
    client = ThunderIDClient(_config(), http=httpx.Client(transport=httpx.MockTransport(provider)))
    middleware = ThunderIDWSGIMiddleware(lambda e, s: [], client)
    statuses: list[str] = []

    def one(_: int) -> None:
        middleware(_environ(), lambda status, headers: statuses.append(status))

    with ThreadPoolExecutor(REQUESTS) as pool:
        list(pool.map(one, range(REQUESTS)))
    assert len(statuses) == REQUESTS and all(s.startswith("302") for s in statuses), statuses
    assert provider.discovery == 1


async def test_asgi_fetches_discovery_once_for_concurrent_first_requests() -> None:
    provider = CountingProvider()
    transport = httpx.MockTransport(provider.answer)
    client = AsyncThunderIDClient(_config(), http=httpx.AsyncClient(transport=transport))
    middleware = ThunderIDASGIMiddleware(lambda s, r, w: None, client)  # type: ignore[arg-type,return-value]
    statuses: list[int] = []

    async def one() -> None:
        scope = {"type": "http", "method": "GET", "path": "/sign-in", "headers": []}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        await middleware(scope, receive, send)

    await asyncio.gather(*(one() for _ in range(REQUESTS)))
    assert statuses == [302] * REQUESTS
    assert provider.discovery == 1
