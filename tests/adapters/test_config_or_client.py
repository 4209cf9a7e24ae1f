"""Both middlewares accept a config or a client; given a client, they use that very client
(so an app can share it with its own code: one cache, one connection pool)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.idp import IdP
from thunderid_mw import (
    AsyncThunderIDClient,
    AuthContext,
    ThunderIDASGIMiddleware,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.asgi import Receive, Scope, Send
from thunderid_mw.stores import MemoryStore

APP_URL = "http://127.0.0.1:5000"
SECRET = "adapter-test-secret-0123456789-abcdefgh"


def _config(idp: IdP) -> ThunderIDConfig:
    return ThunderIDConfig(
        base_url=idp.issuer,
        client_id=idp.conf_client_id,
        client_secret=idp.conf_client_secret,
        after_sign_in_url=APP_URL + "/callback",
        secret=SECRET,
        store=MemoryStore(),
    )


def _sign_in(rp: httpx.Client, idp: IdP) -> None:
    start = rp.get("/sign-in?return_to=/me")
    with httpx.Client() as browser:
        callback = idp.login(browser, start.headers["location"], "alice")
    assert rp.get(callback[len(APP_URL) :]).status_code == 302


def test_wsgi_middleware_uses_the_client_it_is_given(idp: IdP) -> None:
    client = ThunderIDClient(_config(idp))
    seen: list[AuthContext] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["thunderid"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = ThunderIDWSGIMiddleware(app, client)
    assert middleware.client is client
    with httpx.Client(transport=httpx.WSGITransport(app=middleware), base_url=APP_URL) as rp:
        _sign_in(rp, idp)
        assert rp.get("/me").status_code == 200
    ctx = seen[-1]
    assert ctx.is_signed_in and ctx.client is client
    assert ctx.session_id is not None
    assert client.get_user(ctx.session_id)["sub"] == "user-alice"


async def test_asgi_middleware_uses_the_client_it_is_given(idp: IdP) -> None:
    client = AsyncThunderIDClient(_config(idp))
    seen: list[AuthContext] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["thunderid"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = ThunderIDASGIMiddleware(app, client)
    assert middleware.client is client
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url=APP_URL) as rp:
        start = await rp.get("/sign-in?return_to=/me")
        with httpx.Client() as browser:
            callback = idp.login(browser, start.headers["location"], "alice")
        assert (await rp.get(callback[len(APP_URL) :])).status_code == 302
        assert (await rp.get("/me")).status_code == 200
    ctx = seen[-1]
    assert ctx.is_signed_in and ctx.client is client
    assert ctx.session_id is not None
    assert (await client.get_user(ctx.session_id))["sub"] == "user-alice"


def test_client_is_the_parameter_name_and_config_or_client_still_works(idp: IdP) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("204 No Content", [])
        return []

    async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = _config(idp)
    client = ThunderIDClient(config)
    assert ThunderIDWSGIMiddleware(app, client=client).client is client
    assert ThunderIDWSGIMiddleware(app, config_or_client=client).client is client
    assert ThunderIDWSGIMiddleware(app, client=config).client.config is config
    async_client = AsyncThunderIDClient(config)
    assert ThunderIDASGIMiddleware(asgi_app, client=async_client).client is async_client
    assert ThunderIDASGIMiddleware(asgi_app, config_or_client=config).client.config is config
    with pytest.raises(TypeError, match="one client="):
        ThunderIDWSGIMiddleware(app)
    with pytest.raises(TypeError, match="one client="):
        ThunderIDWSGIMiddleware(app, client=config, config_or_client=config)
    with pytest.raises(TypeError, match="one client="):
        ThunderIDASGIMiddleware(asgi_app)
    with pytest.raises(TypeError, match="one client="):
        ThunderIDASGIMiddleware(asgi_app, client=config, config_or_client=config)
