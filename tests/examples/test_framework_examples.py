"""The framework examples, each under the server it names in its docstring (Litestar
and Starlette under uvicorn, Quart under Hypercorn; Falcon, Bottle and Pyramid under
gunicorn; Django under both; Sanic on its own server): public page, protected page with
the user's claims, a protected API called with the user's token, sign-in and sign-out,
against the test IdP."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, sign_in

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
FETCH = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}


EXAMPLES = {
    "litestar": ("uvicorn", "examples.litestar_app:app"),
    "sanic": ("sanic", "examples.sanic_app:app"),
    "quart": ("hypercorn", "examples.quart_app:app"),
    "starlette": ("uvicorn", "examples.starlette_app:app"),
    "falcon": ("gunicorn", "examples.falcon_app:application"),
    "bottle": ("gunicorn", "examples.bottle_app:application"),
    "pyramid": ("gunicorn", "examples.pyramid_app:application"),
    "django-wsgi": ("gunicorn", "examples.django_app:application"),
    "django-asgi": ("uvicorn", "examples.django_app:asgi_application"),
}


@pytest.mark.parametrize(("kind", "app"), EXAMPLES.values(), ids=EXAMPLES.keys())
def test_framework_example(
    idp: IdP,
    serve: Callable[..., Server],
    protected_api_server: Server,
    tmp_path: Path,
    kind: str,
    app: str,
) -> None:
    port = free_port()
    env = app_env(
        idp, port, f"sqlite:///{tmp_path}/s.sqlite3", PROFILE_API_URL=protected_api_server.url
    )
    server = serve(kind, app, env, port=port, ready_path="/")

    with httpx.Client(base_url=server.url) as anonymous:
        home = anonymous.get("/", headers=BROWSER)
        assert 'id="sign-in"' in home.text and 'href="/sign-in?return_to=/profile"' in home.text
        page = anonymous.get("/profile", headers=BROWSER)
        assert page.status_code == 302
        # WebOb (Pyramid) makes every Location absolute, on the request's own origin.
        location = page.headers["location"].removeprefix(server.url)
        assert location == "/sign-in?return_to=%2Fprofile"
        assert anonymous.get("/api/me", headers=FETCH).status_code == 401

    alice = sign_in(server.url, idp, "alice", return_to="/profile")
    profile = alice.get("/profile", headers=BROWSER)
    assert profile.status_code == 200
    assert 'class="claim-sub">user-alice<' in profile.text and "Alice Liddell" in profile.text
    me = alice.get("/api/me", headers=FETCH)
    assert me.status_code == 200, me.text
    assert me.json()["sub"] == "user-alice"

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', alice.get("/").text)
    assert csrf is not None
    out = alice.post("/sign-out", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303
    assert 'id="sign-in"' in alice.get("/", headers=BROWSER).text
    assert alice.get("/api/me", headers=FETCH).status_code == 401
