"""Quart (uvicorn) and Pyramid (gunicorn) with their helpers: a signed-out request is
answered as the middleware does, a signed-in one without the permission with 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, sign_in

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("kind", "app", "public"),
    [
        ("uvicorn", "tests.apps.quart_views:app", "public signed_in={}"),
        ("gunicorn", "tests.apps.pyramid_views:app", "public signed_in={0} ctx={0}"),
    ],
    ids=["quart", "pyramid"],
)
def test_helpers(
    idp: IdP, serve: Callable[..., Server], tmp_path: Path, kind: str, app: str, public: str
) -> None:
    port = free_port()
    server = serve(kind, app, app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3"), port=port)

    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/public").text == public.format(False)
        browser = anonymous.get("/profile?tab=1", headers=BROWSER)
        assert browser.status_code == 302
        # WebOb (Pyramid) makes every Location absolute, on the request's own origin.
        location = browser.headers["location"].removeprefix(server.url)
        assert location == "/sign-in?return_to=%2Fprofile%3Ftab%3D1"
        api = anonymous.get("/admin", headers=API)
        assert api.status_code == 401 and api.json()["error"] == "not_signed_in"

    alice = sign_in(server.url, idp, "alice", return_to="/profile")
    assert alice.get("/public").text == public.format(True)
    assert alice.get("/profile", headers=API).json()["sub"] == "user-alice"
    assert alice.get("/named").text == "named"
    forbidden = alice.get("/admin", headers=API)
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "error": "forbidden",
        "message": "You are signed in but not allowed to see this page. Missing: role (admin).",
    }
