"""Django under gunicorn behind the WSGI middleware and under uvicorn behind the ASGI one:
``@login_required`` (sync and async views) answers a signed-out request as the middleware
does (browser: sign in and back; code: 401), a signed-in request reaches the view with the
user's claims, ``@require`` answers 403 to a signed-in user without the permission."""

from __future__ import annotations

import re
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
        ("gunicorn", "tests.apps.django_app:application"),
        ("uvicorn", "tests.apps.django_app:asgi_application"),
    ],
    ids=["wsgi", "asgi"],
)
def test_django_login_required(
    idp: IdP,
    serve: Callable[..., Server],
    tmp_path: Path,
    kind: str,
    app: str,
    protected_api_server: Server,
) -> None:
    port = free_port()
    env = app_env(
        idp, port, f"sqlite:///{tmp_path}/s.sqlite3", PROFILE_API_URL=protected_api_server.url
    )
    server = serve(kind, app, env, port=port, workers=2 if kind == "gunicorn" else 1)

    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/public").text == "public signed_in=False ended=None"
        browser = anonymous.get("/profile?tab=1", headers=BROWSER)
        assert browser.status_code == 302
        assert browser.headers["location"] == "/sign-in?return_to=%2Fprofile%3Ftab%3D1"
        api = anonymous.get("/profile", headers=API)
        assert api.status_code == 401
        assert api.json()["error"] == "not_signed_in"
        assert "WWW-Authenticate" in api.headers
        assert anonymous.get("/async-profile", headers=API).status_code == 401
        assert anonymous.get("/admin", headers=API).status_code == 401

    client = sign_in(server.url, idp, "alice", return_to="/profile")
    profile = client.get("/profile", headers=API)
    assert profile.status_code == 200
    assert profile.json()["sub"] == "user-alice"
    assert client.get("/async-profile", headers=API).json()["sub"] == "user-alice"
    assert client.get("/whoami").json() == {"signed_in": True, "sub": "user-alice"}
    assert client.get("/staff", headers=API).text == "staff"
    # Sync and async views call a protected API with the user's token (under ASGI the
    # sync view's token comes through the blocking token source).
    for view in ("/api-me-sync", "/api-me-async"):
        me = client.get(view, headers=API)
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == "user-alice"
    forbidden = client.get("/admin", headers=API)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
    assert client.get("/admin", headers=BROWSER).status_code == 403

    # After sign-out the old cookie gets 401 with the ended reason, and the cookie cleared.
    old_cookie = client.cookies["__thunderid__session"]
    page = client.get("/sign-out").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    assert client.post("/sign-out", data={"csrf_token": csrf.group(1)}).status_code == 303
    with httpx.Client(base_url=server.url) as stale:
        answer = stale.get(
            "/profile", headers={**API, "Cookie": f"__thunderid__session={old_cookie}"}
        )
    assert answer.status_code == 401
    assert "signed_out" in answer.headers["WWW-Authenticate"]
    cleared = answer.headers["set-cookie"]
    assert cleared.startswith("__thunderid__session=") and "Max-Age=0" in cleared
