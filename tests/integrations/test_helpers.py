"""Every framework helper answers from the one building block (``thunderid_mw.integrations``):
signed out -> redirect (browser) or 401 (code), signed in without the permission -> 403,
allowed -> the view, for sync and ``async def`` views. In process, with a context placed
where the middleware puts it (the middleware itself is tested with real servers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask

from tests.core.driver import SECRET
from thunderid_mw import AuthContext, ThunderIDClient, ThunderIDConfig
from thunderid_mw.integrations import Requirement, authorize, forbidden, sign_in_required
from thunderid_mw.integrations.fastapi import (
    AuthRefused,
    RequiredAuth,
    auth_refused_handler,
    requires,
)
from thunderid_mw.integrations.flask import current_auth, login_required, require
from thunderid_mw.stores import MemoryStore

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}
CLAIMS = {"sub": "user-alice", "email": "alice@example.test", "groups": ["staff"]}


@pytest.fixture(scope="module")
def client() -> Iterator[ThunderIDClient]:
    config = ThunderIDConfig(
        client_id="c",
        after_sign_in_url="http://app.test/callback",
        secret=SECRET,
        store=MemoryStore(),
    )
    c = ThunderIDClient(config)
    yield c
    c.close()


def signed_in(client: ThunderIDClient) -> AuthContext:
    return AuthContext(
        client, session_id="s", user=CLAIMS, access_token="at", scopes=("openid", "profile")
    )


def signed_out(client: ThunderIDClient) -> AuthContext:
    return AuthContext(client)


def environ(ctx: AuthContext, path: str = "/orders", accept: str = "text/html") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "page=2",
        "SCRIPT_NAME": "",
        "HTTP_ACCEPT": accept,
        "thunderid": ctx,
    }


def test_building_block_on_a_wsgi_environ(client: ThunderIDClient) -> None:
    answer = sign_in_required(environ(signed_out(client)))
    assert answer.status == 302
    assert dict(answer.headers)["Location"] == "/sign-in?return_to=%2Forders%3Fpage%3D2"
    api = sign_in_required(environ(signed_out(client), accept="application/json"))
    assert api.status == 401 and "WWW-Authenticate" in dict(api.headers)

    ctx = signed_in(client)
    assert authorize(environ(ctx)) is None
    assert authorize(environ(ctx), Requirement.of(groups="staff")) is None
    refused = authorize(environ(ctx, accept="application/json"), Requirement.of(roles="admin"))
    assert refused is not None and refused.status == 403
    assert b'"error": "forbidden"' in refused.body
    assert forbidden(environ(ctx)).status == 403


def test_building_block_on_an_asgi_scope_under_a_mount(client: ThunderIDClient) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/app/orders",
        "root_path": "/app",
        "query_string": b"",
        "headers": [(b"accept", b"text/html")],
        "thunderid": signed_out(client),
    }
    answer = sign_in_required(scope)
    assert dict(answer.headers)["Location"] == "/app/sign-in?return_to=%2Fapp%2Forders"
    scope["thunderid"] = signed_in(client)
    refused = authorize(scope, Requirement.of(scopes="orders:read"))
    assert refused is not None and refused.status == 403 and b'href="/app/"' in refused.body


def test_the_building_block_without_the_middleware_names_it() -> None:
    with pytest.raises(RuntimeError, match="ThunderIDWSGIMiddleware"):
        sign_in_required({"REQUEST_METHOD": "GET", "PATH_INFO": "/"})


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/sync")
    @login_required
    def sync_view() -> str:
        return f"sync {current_auth().user['sub']}"

    @app.get("/async")
    @login_required
    async def async_view() -> str:
        return f"async {current_auth().user['sub']}"

    @app.get("/staff")
    @require(groups="staff", scopes="profile")
    async def staff() -> str:
        return "staff"

    @app.get("/admin")
    @require(roles="admin")
    def admin() -> str:
        return "admin"

    return app


@pytest.mark.parametrize("path", ["/sync", "/async", "/staff", "/admin"])
def test_flask_signed_out_is_sent_to_sign_in_or_401(client: ThunderIDClient, path: str) -> None:
    http = flask_app().test_client()
    base = {"thunderid": signed_out(client)}
    browser = http.get(path, headers=BROWSER, environ_base=base)
    assert browser.status_code == 302
    assert browser.headers["Location"] == f"/sign-in?return_to=%2F{path[1:]}"
    api = http.get(path, headers=API, environ_base=base)
    assert api.status_code == 401 and api.json == {
        "error": "not_signed_in",
        "message": "Sign-in required.",
    }


def test_flask_signed_in_sync_async_and_permissions(client: ThunderIDClient) -> None:
    http = flask_app().test_client()
    base = {"thunderid": signed_in(client)}
    assert http.get("/sync", environ_base=base).text == "sync user-alice"
    assert http.get("/async", environ_base=base).text == "async user-alice"
    assert http.get("/staff", environ_base=base).text == "staff"
    page = http.get("/admin", headers=BROWSER, environ_base=base)
    assert page.status_code == 403 and page.content_type.startswith("text/html")
    api = http.get("/admin", headers=API, environ_base=base)
    assert api.status_code == 403 and api.json is not None
    assert api.json["error"] == "forbidden" and "role (admin)" in api.json["message"]


def fastapi_app(ctx: AuthContext) -> Any:
    app = FastAPI()
    app.add_exception_handler(AuthRefused, auth_refused_handler)

    @app.get("/me")
    async def me(auth: RequiredAuth) -> str:
        return str(auth.user["sub"])

    @app.get("/staff")
    def staff(auth: Annotated[AuthContext, Depends(requires(groups="staff"))]) -> str:
        return "staff"

    @app.get("/admin")
    async def admin(auth: Annotated[AuthContext, Depends(requires(roles="admin"))]) -> str:
        return "admin"

    async def with_context(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "thunderid": ctx}, receive, send)

    return with_context


async def test_fastapi_dependencies(client: ThunderIDClient) -> None:
    for ctx, expected in (
        (signed_out(client), {"/me": 401, "/staff": 401, "/admin": 401}),
        (signed_in(client), {"/me": 200, "/staff": 200, "/admin": 403}),
    ):
        transport = httpx.ASGITransport(app=fastapi_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
            for path, status in expected.items():
                answer = await http.get(path, headers=API)
                assert answer.status_code == status, path
                if status >= 400:
                    expected_error = "not_signed_in" if status == 401 else "forbidden"
                    assert answer.json()["error"] == expected_error, path
            browser = await http.get("/admin", headers=BROWSER)
            assert browser.status_code == (302 if not ctx.is_signed_in else 403)
