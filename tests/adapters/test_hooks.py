"""Event hooks (core/hooks.py) on both adapters, through the real middleware and the test
kit's fake provider: sync and async hooks, a refused user, a failing hook."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from thunderid_mw import (
    Hooks,
    SessionEndEvent,
    SignInEvent,
    SignInRejected,
    SignOutEvent,
    ThunderIDASGIMiddleware,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.asgi import Receive, Scope, Send
from thunderid_mw.testing import FakeThunderID, TestKitError

APP_URL = "http://app.test"


def _describe(ctx: Any) -> bytes:
    return json.dumps(
        {
            "signed_in": ctx.is_signed_in,
            "ended": ctx.ended_reason.value if ctx.ended_reason else None,
        }
    ).encode()


def wsgi_page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_describe(environ["thunderid"])]


async def asgi_page(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": _describe(scope["thunderid"])})


class Recorder:
    """Hooks that write down what they were called with (and on which thread)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.threads: set[int] = set()
        self.local_users: dict[str, str] = {}

    def sign_in(self, event: SignInEvent) -> None:
        self.threads.add(threading.get_ident())
        self.local_users.setdefault(event.user["sub"], event.user.get("name", ""))
        self.calls.append(("sign_in", (event.user["sub"], event.scopes)))

    def sign_out(self, event: SignOutEvent) -> None:
        self.calls.append(("sign_out", event.user["sub"]))

    def session_end(self, event: SessionEndEvent) -> None:
        self.calls.append(("session_end", event.reason.value))

    async def async_sign_in(self, event: SignInEvent) -> None:
        self.sign_in(event)

    async def async_sign_out(self, event: SignOutEvent) -> None:
        self.sign_out(event)

    async def async_session_end(self, event: SessionEndEvent) -> None:
        self.session_end(event)

    def hooks(self, use_async: bool) -> Hooks:
        if use_async:
            return Hooks(self.async_sign_in, self.async_sign_out, self.async_session_end)
        return Hooks(self.sign_in, self.sign_out, self.session_end)


def wsgi_client(thunderid: FakeThunderID, hooks: Hooks) -> httpx.Client:
    app = ThunderIDWSGIMiddleware(wsgi_page, thunderid.config(APP_URL, hooks=hooks))
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=APP_URL)


def asgi_client(thunderid: FakeThunderID, hooks: Hooks) -> httpx.AsyncClient:
    app = ThunderIDASGIMiddleware(asgi_page, thunderid.config(APP_URL, hooks=hooks))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_URL)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-hooks", "async-hooks"])
def test_wsgi_calls_every_hook_with_the_user_and_the_reason(
    thunderid: FakeThunderID, use_async: bool
) -> None:
    seen = Recorder()
    with wsgi_client(thunderid, seen.hooks(use_async)) as client:
        thunderid.sign_in(client, "ada", claims={"name": "Ada"}, scopes=("openid", "orders"))
        assert seen.local_users == {"ada": "Ada"}  # "create the local user on first sign-in"
        thunderid.sign_out(client)
        thunderid.sign_in(client, "ada")
        thunderid.expire_sessions()
        assert client.get("/").json()["ended"] == "expired"
        thunderid.sign_in(client, "ada")
        thunderid.provider.reject_refresh()
        thunderid.expire_tokens()
        assert client.get("/").json()["ended"] == "refresh_rejected"
    assert seen.calls == [
        ("sign_in", ("ada", ("openid", "orders"))),
        ("session_end", "signed_out"),
        ("sign_out", "ada"),
        ("sign_in", ("ada", ("openid", "profile"))),
        ("session_end", "expired"),
        ("sign_in", ("ada", ("openid", "profile"))),
        ("session_end", "refresh_rejected"),
    ]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-hooks", "async-hooks"])
async def test_asgi_calls_every_hook(thunderid: FakeThunderID, use_async: bool) -> None:
    seen = Recorder()
    async with asgi_client(thunderid, seen.hooks(use_async)) as client:
        await thunderid.async_sign_in(client, "ada")
        if not use_async:  # a plain hook must not block the event loop
            assert threading.get_ident() not in seen.threads
        assert await thunderid.async_back_channel_logout(client, "ada") == 200
        assert (await client.get("/")).json()["ended"] == "logged_out_by_provider"
        await thunderid.async_sign_in(client, "ada")
        await thunderid.async_sign_out(client)
    assert seen.calls == [
        ("sign_in", ("ada", ("openid", "profile"))),
        ("session_end", "logged_out_by_provider"),
        ("sign_in", ("ada", ("openid", "profile"))),
        ("session_end", "signed_out"),
        ("sign_out", "ada"),
    ]


def refuse_outsiders(event: SignInEvent) -> None:
    if not str(event.user.get("email", "")).endswith("@example.com"):
        raise SignInRejected("Only example.com accounts may use this site.")


def test_a_refused_user_gets_a_page_and_no_session_on_wsgi(
    thunderid: FakeThunderID, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="thunderid_mw")
    with wsgi_client(thunderid, Hooks(on_sign_in=refuse_outsiders)) as client:
        with pytest.raises(TestKitError, match=r"Only example\.com accounts") as refused:
            thunderid.sign_in(client, "eve", claims={"email": "eve@elsewhere.test"})
        assert "answered 403" in str(refused.value)
        assert client.get("/").json() == {"signed_in": False, "ended": None}
        # the tokens issued to the refused user do not outlive the refusal
        assert len(thunderid.provider.revoked) == 2
        thunderid.sign_in(client, "ada", claims={"email": "ada@example.com"})
        assert client.get("/").json()["signed_in"] is True
    logged = [getattr(r, "event", "") for r in caplog.records]
    assert logged.count("sign_in.rejected") == 1 and "sign_in.failed" not in logged


async def test_a_refused_user_gets_a_page_and_no_session_on_asgi(thunderid: FakeThunderID) -> None:
    async def refuse(event: SignInEvent) -> None:
        raise SignInRejected()

    async with asgi_client(thunderid, Hooks(on_sign_in=refuse)) as client:
        with pytest.raises(TestKitError, match="answered 403"):
            await thunderid.async_sign_in(client)
        assert (await client.get("/")).json()["signed_in"] is False
    assert len(thunderid.provider.revoked) == 2  # refresh and access token


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
async def test_a_failing_sign_in_hook_stores_no_session(
    thunderid: FakeThunderID, adapter: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: SignInEvent) -> None:
        raise RuntimeError("the user table is down")

    caplog.set_level(logging.ERROR, logger="thunderid_mw")
    hooks = Hooks(on_sign_in=broken)
    if adapter == "wsgi":
        with wsgi_client(thunderid, hooks) as client:
            with pytest.raises(TestKitError, match="answered 500"):
                thunderid.sign_in(client)
            assert client.get("/").json()["signed_in"] is False
    else:
        async with asgi_client(thunderid, hooks) as aclient:
            with pytest.raises(TestKitError, match="answered 500"):
                await thunderid.async_sign_in(aclient)
            assert (await aclient.get("/")).json()["signed_in"] is False
    failed = [r for r in caplog.records if getattr(r, "event", "") == "hook.failed"]
    assert len(failed) == 1 and "RuntimeError" in failed[0].getMessage()
    assert len(thunderid.provider.revoked) == 2  # nobody holds the tokens: revoked


def test_failing_sign_out_and_session_end_hooks_still_sign_out(
    thunderid: FakeThunderID, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: object) -> None:
        raise ValueError("audit log full")

    caplog.set_level(logging.ERROR, logger="thunderid_mw")
    with wsgi_client(thunderid, Hooks(on_sign_out=broken, on_session_end=broken)) as client:
        thunderid.sign_in(client)
        thunderid.sign_out(client)
        assert client.get("/").json()["signed_in"] is False
    failed = [r for r in caplog.records if getattr(r, "event", "") == "hook.failed"]
    assert [dict(vars(r)["event_fields"])["hook"] for r in failed] == [
        "on_session_end",
        "on_sign_out",
    ]


def test_werkzeug_client_with_async_hooks(thunderid: FakeThunderID) -> None:
    seen = Recorder()
    client = Client(ThunderIDWSGIMiddleware(wsgi_page, thunderid.config(hooks=seen.hooks(True))))
    thunderid.sign_in(client, "grace")
    assert seen.calls == [("sign_in", ("grace", ("openid", "profile")))]
