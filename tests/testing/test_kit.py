"""The test kit (thunderid_mw.testing) through the real middleware, on every kind of test
client it supports: werkzeug, starlette's TestClient, httpx sync (WSGI) and async (ASGI)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.testing import FakeThunderID, TestKitError


def _describe(ctx: Any) -> bytes:
    return json.dumps(
        {
            "signed_in": ctx.is_signed_in,
            "user": dict(ctx.user or {}),
            "scopes": list(ctx.scopes or ()),
            "ended": ctx.ended_reason.value if ctx.ended_reason else None,
            "access_token": ctx.access_token if ctx.is_signed_in else None,
        }
    ).encode()


def wsgi_page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [_describe(environ["thunderid"])]


async def asgi_page(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # lifespan: nothing to start
    body = _describe(scope["thunderid"])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(config: ThunderIDConfig) -> ThunderIDWSGIMiddleware:
    return ThunderIDWSGIMiddleware(wsgi_page, config)


def whoami(client: Any) -> dict[str, Any]:
    response = client.get("/me")
    data: dict[str, Any] = json.loads(
        response.get_data() if hasattr(response, "get_data") else response.content
    )
    return data


def test_werkzeug_client_signs_in_with_chosen_claims_and_scopes(thunderid: FakeThunderID) -> None:
    client = Client(wsgi_app(thunderid.config()))
    landed = thunderid.sign_in(
        client,
        "ada",
        claims={"name": "Ada"},
        scopes=("openid", "profile", "orders:read"),
        return_to="/orders?page=2",
    )
    me = whoami(client)
    assert landed == "/orders?page=2"
    assert me["signed_in"] is True
    assert me["user"]["sub"] == "ada" and me["user"]["name"] == "Ada"
    assert "orders:read" in me["scopes"]


def test_starlette_test_client_signs_in_and_out(thunderid: FakeThunderID) -> None:
    app = ThunderIDASGIMiddleware(asgi_page, thunderid.config(app_url="http://testserver"))
    client = TestClient(app)  # no lifespan: the bare ASGI page has nothing to start
    thunderid.sign_in(client, claims={"email": "ada@example.com"})
    assert whoami(client)["user"]["email"] == "ada@example.com"
    end_session = thunderid.sign_out(client)
    assert end_session.startswith(thunderid.provider.issuer + "/logout?")
    assert whoami(client)["signed_in"] is False
    assert len(thunderid.provider.revoked) == 2  # refresh and access token


async def test_httpx_async_client_over_asgi(thunderid: FakeThunderID) -> None:
    app = ThunderIDASGIMiddleware(asgi_page, thunderid.config(app_url="http://app.test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        await thunderid.async_sign_in(client, "grace", claims={"name": "Grace"})
        me = (await client.get("/me")).json()
        assert me["user"]["name"] == "Grace"
        await thunderid.async_sign_out(client)
        assert (await client.get("/me")).json()["signed_in"] is False


def test_httpx_client_over_wsgi(thunderid: FakeThunderID) -> None:
    transport = httpx.WSGITransport(app=wsgi_app(thunderid.config(app_url="http://app.test")))
    with httpx.Client(transport=transport, base_url="http://app.test") as client:
        thunderid.sign_in(client)
        assert whoami(client)["user"]["sub"] == "user-1"


def test_expired_access_token_is_refreshed_at_the_fake_provider(thunderid: FakeThunderID) -> None:
    client = Client(wsgi_app(thunderid.config()))
    thunderid.sign_in(client)
    first = whoami(client)["access_token"]
    thunderid.expire_tokens()
    after = whoami(client)
    assert after["signed_in"] is True
    assert after["access_token"] != first
    assert thunderid.provider.refresh_count == 1


def test_rejected_refresh_ends_the_session(thunderid: FakeThunderID) -> None:
    client = Client(wsgi_app(thunderid.config()))
    thunderid.sign_in(client)
    thunderid.provider.reject_refresh()
    thunderid.expire_tokens()
    me = whoami(client)
    assert me["signed_in"] is False and me["ended"] == "refresh_rejected"


def test_expired_session(thunderid: FakeThunderID) -> None:
    client = Client(wsgi_app(thunderid.config()))
    thunderid.sign_in(client)
    thunderid.expire_sessions()
    assert whoami(client)["ended"] == "expired"


async def test_back_channel_logout_on_asgi(thunderid: FakeThunderID) -> None:
    app = ThunderIDASGIMiddleware(asgi_page, thunderid.config(app_url="http://app.test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        await thunderid.async_sign_in(client, "ada")
        assert await thunderid.async_back_channel_logout(client, "ada") == 200
        me = (await client.get("/me")).json()
        assert me["ended"] == "logged_out_by_provider"


def test_back_channel_logout_of_another_user_keeps_the_session(thunderid: FakeThunderID) -> None:
    client = Client(wsgi_app(thunderid.config()))
    thunderid.sign_in(client, "ada")
    assert thunderid.back_channel_logout(client, "someone-else") == 200
    assert whoami(client)["signed_in"] is True


def test_protected_path_needs_the_sign_in(thunderid: FakeThunderID) -> None:
    client = Client(wsgi_app(thunderid.config(protected_paths=("/private",))))
    browser = {"Accept": "text/html"}
    assert client.get("/private", headers=browser).status_code == 302
    assert client.get("/private").status_code == 401  # no Accept: an API call
    thunderid.sign_in(client)
    assert client.get("/private", headers=browser).status_code == 200


def test_app_reading_its_settings_from_the_environment(
    thunderid: FakeThunderID, tmp_path: Any
) -> None:
    variables = thunderid.environ(f"sqlite:///{tmp_path}/sessions.sqlite3")
    client = Client(wsgi_app(ThunderIDConfig.from_env(variables)))
    thunderid.sign_in(client, claims={"name": "Env"})
    thunderid.expire_sessions()
    assert whoami(client)["ended"] == "expired"


def test_a_client_on_another_origin_is_told_how_to_fix_it(thunderid: FakeThunderID) -> None:
    app = ThunderIDASGIMiddleware(asgi_page, thunderid.config())  # http://localhost
    with pytest.raises(TestKitError, match="app_url"):
        thunderid.sign_in(TestClient(app))  # TestClient sends http://testserver


def test_an_app_without_the_middleware_is_reported(thunderid: FakeThunderID) -> None:
    thunderid.config()

    def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("404 Not Found", [])
        return [b"no such page"]

    with pytest.raises(TestKitError, match="answered 404"):
        thunderid.sign_in(Client(bare))


def test_the_kit_needs_a_config_first(thunderid: FakeThunderID) -> None:
    with pytest.raises(TestKitError, match=r"thunderid\.config"):
        thunderid.sign_in(Client(wsgi_page))
