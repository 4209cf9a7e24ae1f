"""Falcon under gunicorn (WSGI) and uvicorn (ASGI): hooks answer a signed-out request as
the middleware does and a signed-in one without the permission with 403; a responder's
``AuthRefused`` is sent by the error handler."""

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
    ("kind", "app"),
    [
        ("gunicorn", "tests.apps.falcon_views:wsgi_app"),
        ("uvicorn", "tests.apps.falcon_views:asgi_app"),
    ],
    ids=["wsgi", "asgi"],
)
def test_falcon_hooks(
    idp: IdP, serve: Callable[..., Server], tmp_path: Path, kind: str, app: str
) -> None:
    port = free_port()
    server = serve(kind, app, app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3"), port=port)

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
    raised = alice.get("/raises", headers=API)
    assert raised.status_code == 403 and "role (owner)" in raised.json()["message"]
