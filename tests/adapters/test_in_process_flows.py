"""Both adapters in process, against a provider in memory (tests/support/mock_provider.py):
the whole life of a session — sent to sign in, signed in, refreshed when its token expires,
signed out — in a fraction of a second, beside the same flows on real servers against the
Node test IdP (tests/e2e, tests/tokens)."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.docs import APP, BROWSER, FETCH, Driver, run_asgi, run_wsgi
from tests.support.mock_provider import ISSUER, MockProvider
from tests.support.servers import TEST_SECRET
from thunderid_mw import (
    AsyncThunderIDClient,
    ThunderIDASGIMiddleware,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.asgi import Message, Receive, Scope, Send
from thunderid_mw.context import CONTEXT_KEY
from thunderid_mw.stores import MemoryStore


def make_config(store: MemoryStore | str = "memory://") -> ThunderIDConfig:
    return ThunderIDConfig(
        base_url=ISSUER,
        client_id="app",
        client_secret="app-secret",
        after_sign_in_url=APP + "/callback",
        after_sign_out_url=APP + "/",
        secret=TEST_SECRET,
        store=store,
        protected_paths=("/private",),
        refresh_leeway=0,
    )


def page(ctx: Any) -> bytes:
    return f"sub={ctx.user.get('sub')} token={ctx.access_token}".encode()


def wsgi_app(provider: MockProvider, store: MemoryStore | str = "memory://") -> Any:
    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [page(environ[CONTEXT_KEY])]

    http = httpx.Client(transport=provider.transport())
    client = ThunderIDClient(make_config(store), http=http)
    return ThunderIDWSGIMiddleware(inner, client)


def asgi_app(provider: MockProvider, store: MemoryStore | str = "memory://") -> Any:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page(scope[CONTEXT_KEY])})

    http = httpx.AsyncClient(transport=provider.transport())
    return ThunderIDASGIMiddleware(inner, AsyncThunderIDClient(make_config(store), http=http))


def sign_in(app: Driver, provider: MockProvider) -> None:
    refused = app.get("/private", headers=BROWSER)
    assert refused.status_code == 302
    assert refused.headers["location"] == "/sign-in?return_to=%2Fprivate"
    started = app.get(refused.headers["location"])
    assert started.status_code == 302, started.text
    back = provider.authorize(started.headers["location"])
    assert back.startswith(APP + "/callback?")
    done = app.get(back[len(APP) :])
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/private"


def check_a_whole_session(app: Driver, provider: MockProvider) -> None:
    assert app.get("/private", headers=FETCH).status_code == 401
    provider.access_token_ttl = 2
    sign_in(app, provider)
    first = app.get("/private")
    assert first.status_code == 200 and first.text.startswith("sub=user-alice token=")
    assert provider.calls["/token"] == 1  # the code exchange

    time.sleep(2.1)  # the access token expires: the next request refreshes it first
    second = app.get("/private")
    assert second.status_code == 200 and second.text != first.text
    assert provider.calls["/token"] == 2

    form = app.get("/sign-out", headers=BROWSER)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text
    out = app.post("/sign-out", data={"csrf_token": csrf.group(1)}, headers={"Origin": APP})
    assert out.status_code == 303, out.text
    logout = urlsplit(out.headers["location"])
    assert f"{logout.scheme}://{logout.netloc}{logout.path}" == ISSUER + "/logout"
    assert parse_qs(logout.query)["post_logout_redirect_uri"] == [APP + "/"]
    assert provider.revoked  # the tokens were revoked at the provider
    assert app.get("/private", headers=BROWSER).status_code == 302


def test_a_whole_session_wsgi() -> None:
    provider = MockProvider("app", "app-secret")
    run_wsgi(wsgi_app(provider), check_a_whole_session, provider)


async def test_a_whole_session_asgi() -> None:
    provider = MockProvider("app", "app-secret")
    await run_asgi(asgi_app(provider), check_a_whole_session, provider)


def check_wrong_secret(app: Driver, provider: MockProvider) -> None:
    started = app.get("/sign-in", params={"return_to": "/private"})
    done = app.get(provider.authorize(started.headers["location"])[len(APP) :], headers=BROWSER)
    assert done.status_code == 502 and "client_rejected" in done.text
    assert "__thunderid__session=" not in done.headers.get("set-cookie", "")  # no session


def test_a_provider_refusing_the_client_is_a_502_wsgi() -> None:
    provider = MockProvider("app", "another-secret")
    run_wsgi(wsgi_app(provider), check_wrong_secret, provider)


async def test_a_provider_refusing_the_client_is_a_502_asgi() -> None:
    provider = MockProvider("app", "another-secret")
    await run_asgi(asgi_app(provider), check_wrong_secret, provider)


class KeyRecordingStore(MemoryStore):
    """A memory store shared with "another worker" that can drop every record it saved."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def save(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None:
        self.keys.add(key)
        return super().save(key, data, expires_at=expires_at, expected_version=expected_version)

    def drop_all(self) -> None:
        for key in self.keys:
            self.delete(key)


def check_session_ended_elsewhere(
    app: Driver, provider: MockProvider, store: KeyRecordingStore
) -> None:
    sign_in(app, provider)
    for _ in range(2):  # the second one is answered from what the client remembers
        assert app.get("/private").status_code == 200
    store.drop_all()  # another worker ended the session in the shared store
    assert app.get("/private", headers=FETCH).status_code == 401


def test_a_session_ended_by_another_worker_is_seen_at_once_wsgi() -> None:
    provider = MockProvider("app", "app-secret")
    store = KeyRecordingStore()
    run_wsgi(wsgi_app(provider, store), check_session_ended_elsewhere, provider, store)


async def test_a_session_ended_by_another_worker_is_seen_at_once_asgi() -> None:
    provider = MockProvider("app", "app-secret")
    store = KeyRecordingStore()
    await run_asgi(asgi_app(provider, store), check_session_ended_elsewhere, provider, store)


async def call_asgi(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """One GET straight through the ASGI callable, with ``headers`` exactly as given."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "headers": headers,
    }
    scope |= {"scheme": "http", "query_string": b"", "server": ("127.0.0.1", 8000)}
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        answer.setdefault("status", message.get("status"))
        answer["body"] = answer.get("body", b"") + message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def test_a_session_cookie_in_a_second_cookie_header_counts_asgi() -> None:
    """HTTP/2 may split ``Cookie`` into several headers: ours counts in any of them, and a
    header that only mentions our name elsewhere does not hide it."""
    provider = MockProvider("app", "app-secret")
    app = asgi_app(provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as http:
        started = await http.get("/sign-in", params={"return_to": "/private"})
        back = provider.authorize(started.headers["location"])
        assert (await http.get(back[len(APP) :])).status_code == 302
        name = app.config.cookie_name
        session = http.cookies[name]
    ours = f"{name}={session}".encode()
    for headers in (
        [(b"cookie", b"theme=dark"), (b"cookie", ours)],
        [(b"cookie", ours), (b"accept", b"*/*"), (b"cookie", b"theme=dark")],
        [(b"x-note", name.encode() + b"=forged"), (b"cookie", b"a=b; " + ours)],
    ):
        status, body = await call_asgi(app, "/private", headers)
        assert status == 200 and body.startswith(b"sub=user-alice"), (headers, body)
    # our name outside a Cookie header, or a malformed value, is no session
    for headers in (
        [(b"x-note", ours), (b"cookie", b"theme=dark")],
        [(b"cookie", ours[:-1] + b"!")],
        [],
    ):
        status, _ = await call_asgi(app, "/private", headers)
        assert status == 401, headers
