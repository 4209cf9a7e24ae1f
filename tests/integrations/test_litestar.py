"""Litestar with ``ThunderIDPlugin`` under uvicorn: the middleware's routes answer (not 404,
as with ``DefineMiddleware`` alone), the context is injected, guards answer a signed-out
request as the middleware does and a signed-in one without the permission with 403."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, sign_in

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}


def test_litestar_plugin(idp: IdP, serve: Callable[..., Server], tmp_path: Path) -> None:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3")
    server = serve("uvicorn", "tests.apps.litestar_app:app", env, port=port)

    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/public").text == "public signed_in=False"
        browser = anonymous.get("/profile?tab=1", headers=BROWSER)
        assert browser.status_code == 302
        assert browser.headers["location"] == "/sign-in?return_to=%2Fprofile%3Ftab%3D1"
        api = anonymous.get("/admin", headers=API)
        assert api.status_code == 401 and api.json()["error"] == "not_signed_in"
        assert api.headers["www-authenticate"].startswith("Bearer")

    alice = sign_in(server.url, idp, "alice", return_to="/profile")  # /sign-in, /callback
    assert alice.get("/public").text == "public signed_in=True"
    assert alice.get("/profile", headers=API).json()["sub"] == "user-alice"
    assert alice.get("/named").text == "named"
    forbidden = alice.get("/admin", headers=API)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
    assert alice.get("/admin", headers=BROWSER).headers["content-type"].startswith("text/html")

    page = alice.get("/sign-out").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    assert alice.post("/sign-out", data={"csrf_token": csrf.group(1)}).status_code == 303
    assert alice.get("/profile", headers=API).status_code == 401
