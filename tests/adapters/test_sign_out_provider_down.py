"""Sign-out works while the provider is down: a worker that has never reached the provider
(no discovery cached) ends the session, clears the cookie and sends the browser to
``after_sign_out_url``; revocation is logged as failed. Both middlewares; and the client
API's ``sign_out``."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import httpx
import pytest

from tests.support.fuzz import APP, FAR_FUTURE, SECRET
from thunderid_mw import (
    AsyncThunderIDClient,
    ThunderIDASGIMiddleware,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.asgi import Message
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenSet
from thunderid_mw.stores import MemoryStore

SID = "S" * 43
DOWN = "http://127.0.0.1:9"  # nothing listens


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _config(store: MemoryStore) -> ThunderIDConfig:
    return ThunderIDConfig(
        client_id="app",
        client_secret="app-secret",
        base_url=DOWN,
        after_sign_in_url=APP + "/callback",
        after_sign_out_url=APP + "/bye",
        secret=SECRET,
        store=store,
    )


def _signed_in(store: MemoryStore) -> ThunderIDClient:
    """A session written to the shared store (as a worker that signed the user in would)."""
    client = ThunderIDClient(
        _config(store), http=httpx.Client(transport=httpx.MockTransport(unreachable))
    )
    record = SessionRecord(
        tokens=TokenSet("at", expires_at=FAR_FUTURE, refresh_token="rt", id_token="idt"),
        claims={"sub": "alice"},
        created_at=FAR_FUTURE - 10,
        last_seen=FAR_FUTURE - 10,
        absolute_expires_at=FAR_FUTURE,
    )
    client._run(client._env.save(client._session_key(SID), record, None))
    return client


def _form(client: ThunderIDClient) -> bytes:
    return b"csrf_token=" + client._keys.csrf_token(SID).encode()


def _assert_signed_out(
    client: ThunderIDClient, status: int, headers: list[tuple[str, str]]
) -> None:
    assert status == 303
    found = dict((k.lower(), v) for k, v in headers if k.lower() != "set-cookie")
    assert found["location"] == APP + "/bye"
    cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    assert any(c.startswith("__thunderid__session=;") and "Max-Age=0" in c for c in cookies)
    assert not client.context_for_session(SID).is_signed_in


def test_wsgi_sign_out_with_the_provider_down(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    seed = _signed_in(store)
    fresh = ThunderIDClient(
        _config(store), http=httpx.Client(transport=httpx.MockTransport(unreachable))
    )
    middleware = ThunderIDWSGIMiddleware(lambda e, s: [], fresh)
    body = _form(seed)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/sign-out",
        "QUERY_STRING": "",
        "HTTP_COOKIE": f"__thunderid__session={SID}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    answer: list[Any] = []
    with caplog.at_level(logging.WARNING, logger="thunderid_mw"):
        middleware(environ, lambda status, headers: answer.extend([status, headers]))
    _assert_signed_out(seed, int(answer[0].split()[0]), answer[1])
    assert "revocation failed" in caplog.text


def test_asgi_sign_out_with_the_provider_down() -> None:
    store = MemoryStore()
    seed = _signed_in(store)
    transport = httpx.MockTransport(unreachable)
    fresh = AsyncThunderIDClient(_config(store), http=httpx.AsyncClient(transport=transport))
    middleware = ThunderIDASGIMiddleware(lambda s, r, w: None, fresh)  # type: ignore[arg-type,return-value]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/sign-out",
        "headers": [(b"cookie", f"__thunderid__session={SID}".encode())],
    }
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": _form(seed), "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    headers = [(k.decode(), v.decode()) for k, v in sent[0]["headers"]]
    _assert_signed_out(seed, sent[0]["status"], headers)


def test_client_sign_out_with_the_provider_down() -> None:
    store = MemoryStore()
    seed = _signed_in(store)
    fresh = ThunderIDClient(
        _config(store), http=httpx.Client(transport=httpx.MockTransport(unreachable))
    )
    assert fresh.sign_out(SID) == APP + "/bye"
    assert not seed.context_for_session(SID).is_signed_in
