"""Both adapters: the public origin (Host, or a trusted proxy's forwarded headers) decides
the host check at /sign-in and the Origin check at sign-out; forwarded headers from an
untrusted peer change nothing."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest

from tests.support.fuzz import SECRET
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Message
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenSet
from thunderid_mw.stores import MemoryStore

PROXY = "10.0.0.5"
SID = "S" * 43


def config(
    store: MemoryStore, after_sign_in_url: str = "http://localhost:8000/callback"
) -> ThunderIDConfig:
    return ThunderIDConfig(
        client_id="app",
        base_url="http://127.0.0.1:9",  # never reached by these requests
        after_sign_in_url=after_sign_in_url,
        secret=SECRET,
        store=store,
        trusted_proxies=(PROXY,),
    )


def wsgi_call(
    middleware: ThunderIDWSGIMiddleware,
    path: str,
    *,
    method: str = "GET",
    query: str = "",
    peer: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, dict[str, str]]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": peer,
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "internal",
        "SERVER_PORT": "8000",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: list[Any] = []
    middleware(environ, lambda status, hs: answer.extend([status, hs]))
    found = {k.lower(): v for k, v in answer[1] if k.lower() != "set-cookie"}
    return int(answer[0].split()[0]), found


def asgi_call(
    middleware: ThunderIDASGIMiddleware,
    path: str,
    *,
    query: str = "",
    peer: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str]]:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": query.encode(),
        "client": (peer, 40000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    found = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], found


def test_wsgi_sign_in_on_another_host_goes_to_the_configured_origin_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = ThunderIDWSGIMiddleware(lambda e, s: [], config(MemoryStore()))
    with caplog.at_level(logging.WARNING, logger="thunderid_mw"):
        status, headers = wsgi_call(
            middleware, "/sign-in", query="return_to=/a", headers={"Host": "127.0.0.1:8000"}
        )
    assert status == 302
    assert headers["location"] == ("http://localhost:8000/sign-in?return_to=/a&origin_checked=1")
    assert any(getattr(r, "event", "") == "config.host_mismatch" for r in caplog.records)
    # Still on the wrong host after that redirect: no loop; sign-in goes on (502 here, as
    # the provider is down) and the log says what to fix.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="thunderid_mw"):
        status, _ = wsgi_call(
            middleware,
            "/sign-in",
            query="return_to=/a&origin_checked=1",
            headers={"Host": "127.0.0.1:8000"},
        )
    assert status == 502
    assert "trusted_proxies" in caplog.text


def test_asgi_sign_in_on_another_host_goes_to_the_configured_origin() -> None:
    middleware = ThunderIDASGIMiddleware(lambda s, r, w: None, config(MemoryStore()))  # type: ignore[arg-type,return-value]
    status, headers = asgi_call(middleware, "/sign-in", headers={"Host": "127.0.0.1:8000"})
    assert status == 302
    assert headers["location"] == "http://localhost:8000/sign-in?origin_checked=1"


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_spoofed_forwarded_host_from_an_untrusted_peer_changes_nothing(adapter: str) -> None:
    """A client claiming (to our app directly) to be on localhost is judged by its Host."""
    headers = {
        "Host": "127.0.0.1:8000",
        "X-Forwarded-Host": "localhost:8000",
        "Forwarded": "host=localhost:8000;proto=http",
    }
    store = MemoryStore()
    if adapter == "wsgi":
        w = ThunderIDWSGIMiddleware(lambda e, s: [], config(store))
        status, found = wsgi_call(w, "/sign-in", peer="203.0.113.7", headers=headers)
    else:
        a = ThunderIDASGIMiddleware(lambda s, r, w: None, config(store))  # type: ignore[arg-type,return-value]
        status, found = asgi_call(a, "/sign-in", peer="203.0.113.7", headers=headers)
    assert status == 302 and found["location"].startswith("http://localhost:8000/sign-in?")
    # From the trusted proxy the same headers are believed: the host matches, sign-in
    # proceeds to the (unreachable) provider.
    if adapter == "wsgi":
        status, _ = wsgi_call(w, "/sign-in", peer=PROXY, headers=headers)
    else:
        status, _ = asgi_call(a, "/sign-in", peer=PROXY, headers=headers)
    assert status == 502


def _signed_in(store: MemoryStore, middleware: ThunderIDWSGIMiddleware) -> None:
    client = middleware.client
    record = SessionRecord(
        tokens=TokenSet("at", expires_at=4e9),
        claims={"sub": "alice"},
        created_at=4e9 - 10,
        last_seen=4e9 - 10,
        absolute_expires_at=4e9,
    )
    client._run(client._env.save(client._session_key(SID), record, None))


def test_sign_out_behind_a_tls_terminator_accepts_the_public_origin() -> None:
    """The app is configured with http:// (it only sees http from the proxy); the browser
    is on https. Only the trusted proxy's word makes https://app.example acceptable."""
    store = MemoryStore()
    middleware = ThunderIDWSGIMiddleware(
        lambda e, s: [], config(store, "http://app.example/callback")
    )
    _signed_in(store, middleware)
    form = b"csrf_token=" + middleware.client._keys.csrf_token(SID).encode()
    common = {
        "Host": "app.example",
        "Origin": "https://app.example",
        "Cookie": f"__thunderid__session={SID}",
    }
    spoofed = {**common, "X-Forwarded-Proto": "https"}
    status, _ = wsgi_call(
        middleware, "/sign-out", method="POST", peer="203.0.113.7", headers=spoofed, body=form
    )
    assert status == 403  # an untrusted peer's X-Forwarded-Proto is not believed
    status, _ = wsgi_call(
        middleware, "/sign-out", method="POST", peer=PROXY, headers=spoofed, body=form
    )
    assert status == 303
