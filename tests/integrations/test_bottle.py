"""Bottle under gunicorn: the plugin passes ``auth``; ``login_required`` answers a
signed-out request as the middleware does, ``require`` a signed-in one without the
permission with 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, sign_in

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}


def test_bottle_helpers(idp: IdP, serve: Callable[..., Server], tmp_path: Path) -> None:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3")
    server = serve("gunicorn", "tests.apps.bottle_views:app", env, port=port)

    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/public").text == "public signed_in=False"
        browser = anonymous.get("/profile?tab=1", headers=BROWSER)
        assert browser.status_code == 302
        assert browser.headers["location"] == "/sign-in?return_to=%2Fprofile%3Ftab%3D1"
        api = anonymous.get("/admin", headers=API)
        assert api.status_code == 401 and api.json()["error"] == "not_signed_in"

    alice = sign_in(server.url, idp, "alice", return_to="/profile")
    assert alice.get("/public").text == "public signed_in=True"
    assert alice.get("/profile", headers=API).json()["sub"] == "user-alice"
    assert alice.get("/named").text == "named"
    forbidden = alice.get("/admin", headers=API)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
