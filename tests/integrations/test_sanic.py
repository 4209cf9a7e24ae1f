"""Sanic on its own server with the ``ThunderID`` extension: the middleware's routes and
``protected_paths`` answer as under ASGI, the decorators answer signed-out requests with
redirect / 401 and signed-in ones without the permission with 403."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, sign_in

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}


def test_sanic_extension(idp: IdP, serve: Callable[..., Server], tmp_path: Path) -> None:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3")
    server = serve("sanic", "tests.apps.sanic_app:app", env, port=port)

    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/public").text == "public signed_in=False"
        browser = anonymous.get("/private?x=1", headers=BROWSER)  # protected_paths
        assert browser.status_code == 302
        assert browser.headers["location"] == "/sign-in?return_to=%2Fprivate%3Fx%3D1"
        profile = anonymous.get("/profile", headers=BROWSER)  # the decorator
        assert profile.headers["location"] == "/sign-in?return_to=%2Fprofile"
        api = anonymous.get("/admin", headers=API)
        assert api.status_code == 401 and api.json()["error"] == "not_signed_in"

    alice = sign_in(server.url, idp, "alice", return_to="/private")
    assert alice.get("/private").text == "private sub=user-alice"
    assert alice.get("/profile").json()["sub"] == "user-alice"
    assert alice.get("/named").text == "named"
    forbidden = alice.get("/admin", headers=API)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"

    page = alice.get("/sign-out").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    out = alice.post("/sign-out", data={"csrf_token": csrf.group(1)})
    assert out.status_code == 303, out.text
    assert alice.get("/profile", headers=API).status_code == 401
