"""A store that passed the start-up check and goes away later: requests get 503 and the
failure is logged as ``store.unavailable`` (never with the session id), in both adapters."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.support.fuzz import APP, SECRET
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Message
from thunderid_mw.core.errors import StoreUnavailable
from thunderid_mw.stores import MemoryStore
from thunderid_mw.stores.base import StoredItem

SID = "S" * 43


class LosableStore(MemoryStore):
    lost = False

    def load(self, key: str) -> StoredItem | None:
        if self.lost:
            raise StoreUnavailable("Redis session store redis://store:6379/0: connection refused")
        return super().load(key)


def _config(store: MemoryStore) -> ThunderIDConfig:
    return ThunderIDConfig(
        client_id="app",
        base_url="http://127.0.0.1:9",
        after_sign_in_url=APP + "/callback",
        secret=SECRET,
        store=store,
        protected_paths=("/private",),
    )


def _assert_logged(caplog: pytest.LogCaptureFixture) -> None:
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "store.unavailable"]
    assert record.levelno == logging.WARNING and "connection refused" in record.getMessage()
    assert SID not in caplog.text


def test_wsgi_store_lost_after_start(caplog: pytest.LogCaptureFixture) -> None:
    store = LosableStore()
    middleware = ThunderIDWSGIMiddleware(lambda e, s: [], _config(store))  # checked: works
    store.lost = True
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/private",
        "QUERY_STRING": "",
        "HTTP_COOKIE": f"__thunderid__session={SID}",
    }
    answer: list[Any] = []
    with caplog.at_level(logging.WARNING, logger="thunderid_mw"):
        middleware(environ, lambda status, headers: answer.extend([status, headers]))
    assert answer[0].startswith("503")
    _assert_logged(caplog)


def test_asgi_store_lost_after_start(caplog: pytest.LogCaptureFixture) -> None:
    store = LosableStore()
    middleware = ThunderIDASGIMiddleware(lambda s, r, w: None, _config(store))  # type: ignore[arg-type,return-value]
    store.lost = True
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/private",
        "headers": [(b"cookie", f"__thunderid__session={SID}".encode())],
    }
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with caplog.at_level(logging.WARNING, logger="thunderid_mw"):
        asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 503
    _assert_logged(caplog)
