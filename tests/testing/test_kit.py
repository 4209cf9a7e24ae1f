"""The test kit (thunderid_mw.testing) through the real middleware, on every kind of test
client it supports: werkzeug, starlette's TestClient, httpx sync (WSGI) and async (ASGI),
Quart's test client (Django's and Sanic's: tests/integrations/test_django_middleware.py,
tests/examples/test_examples_with_the_kit.py), and ``import_app`` for apps configured at
import."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Receive, Scope, Send
from thunderid_mw.testing import FakeProvider, FakeThunderID, TestKitError


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


async def asgi_page(scope: Scope, receive: Receive, send: Send) -> None:
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


ENV_APP = """
import json

from thunderid_mw import ThunderIDConfig, ThunderIDWSGIMiddleware

CONFIG = ThunderIDConfig.from_env()


def page(environ, start_response):
    ctx = environ["thunderid"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"signed_in": ctx.is_signed_in, "ended": ctx.ended_reason}).encode()]


application = ThunderIDWSGIMiddleware(page, CONFIG)
"""


def test_import_app_loads_an_app_configured_at_import_and_undoes_it(
    thunderid_provider: FakeProvider, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kit_env_app.py").write_text(ENV_APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("THUNDERID_SECRET", "the user's own")
    monkeypatch.delenv("THUNDERID_STORE", raising=False)
    kit = FakeThunderID(thunderid_provider)
    first = kit.import_app("kit_env_app:application")
    assert first.config.base_url == thunderid_provider.issuer
    client = Client(first)
    kit.sign_in(client)
    kit.expire_sessions()  # the kit reaches the app's sessions (its SQLite file)
    assert json.loads(client.get("/").get_data())["ended"] == "expired"

    second = kit.import_app("kit_env_app:application")  # imported anew, new settings
    assert second is not first and second.config.secret != first.config.secret
    workdir = kit._workdir
    assert workdir is not None and os.path.isdir(workdir)
    kit.close()
    assert os.environ["THUNDERID_SECRET"] == "the user's own"
    assert "THUNDERID_STORE" not in os.environ
    assert not os.path.exists(workdir)
    sys.modules.pop("kit_env_app", None)


async def test_quart_test_client(thunderid: FakeThunderID) -> None:
    from quart import Quart

    from thunderid_mw.integrations.quart import current_auth

    app = Quart(__name__)
    # Quart types asgi_app with its own ASGI TypedDicts (HTTPScope, ...), which a
    # MutableMapping[str, Any] scope cannot match; the two interoperate at run time.
    app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, thunderid.config())  # type: ignore[method-assign, arg-type, assignment]

    @app.get("/me")
    async def me() -> dict[str, Any]:
        return {"user": dict(current_auth().user)}

    client = app.test_client()
    await thunderid.async_sign_in(client, "ada", claims={"name": "Ada"})
    assert (await (await client.get("/me")).get_json())["user"]["name"] == "Ada"
    await thunderid.async_sign_out(client)
    assert (await (await client.get("/me")).get_json())["user"] == {}
