"""``path_requirements`` under both adapters (gunicorn + WSGI app, uvicorn + ASGI app):
signed out -> the usual redirect / 401; signed in without the permission -> 403 (HTML for a
browser, JSON for code), distinct from 401; signed in with it -> the app."""

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
    [("gunicorn", "tests.apps.wsgi_app:app"), ("uvicorn", "tests.apps.asgi_app:app")],
    ids=["wsgi", "asgi"],
)
def test_path_requirements(
    idp: IdP, serve: Callable[..., Server], tmp_path: Path, kind: str, app: str
) -> None:
    port = free_port()
    server = serve(kind, app, app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3"), port=port)

    with httpx.Client(base_url=server.url) as anonymous:
        # A path with a requirement is protected even where protected_paths do not say so.
        assert anonymous.get("/api/admin", headers=API).status_code == 401
        browser = anonymous.get("/private/named", headers=BROWSER)
        assert browser.status_code == 302
        assert browser.headers["location"] == "/sign-in?return_to=%2Fprivate%2Fnamed"

    alice = sign_in(server.url, idp, "alice", return_to="/private/named")
    assert alice.get("/private/named").text == "named Alice Liddell"
    api = alice.get("/api/admin", headers=API)
    assert api.status_code == 403
    assert api.json() == {
        "error": "forbidden",
        "message": "You are signed in but not allowed to see this page. Missing: role (admin).",
    }
    page = alice.get("/api/admin/users", headers=BROWSER)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert alice.get("/%2Fapi/admin", headers=API).status_code == 403  # encoded slash too

    bob = sign_in(server.url, idp, "bob", return_to="/private")
    assert bob.get("/private/named", headers=API).json()["error"] == "forbidden"
    assert bob.get("/private").status_code == 200  # only the named path needs the claim
