"""The examples (examples/flask_app.py, examples/fastapi_app.py) under real servers.

Flask runs under gunicorn with 2 worker processes sharing the SQLite store, FastAPI under
uvicorn; both call the protected API (tests/support/protected_api.py) and sign in at the
test IdP. Each test walks one part of the "Accessing Protected APIs" guide through a
real sign-in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.protected_api import ProtectedAPI
from tests.support.servers import Server, app_env, free_port, sign_in, start_server

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
BROWSER = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
FETCH = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}

EXAMPLES = {
    "flask": ("gunicorn", "examples.flask_app:app", 2),
    "fastapi": ("uvicorn", "examples.fastapi_app:app", 1),
}


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def example(
    request: pytest.FixtureRequest,
    idp: IdP,
    protected_api_server: Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    kind, app, workers = EXAMPLES[request.param]
    workdir = tmp_path_factory.mktemp(request.param)
    port = free_port()
    env = app_env(
        idp,
        port,
        f"sqlite:///{workdir}/sessions.sqlite3",
        THUNDERID_AFTER_SIGN_OUT_URL=f"http://127.0.0.1:{port}/",
        PROFILE_API_URL=protected_api_server.url,
    )
    server = start_server(kind, app, env, port=port, workers=workers, log_dir=workdir)
    try:
        yield server
    finally:
        server.stop()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def api_profile(html: str) -> dict[str, Any]:
    match = re.search(r'<pre id="api-profile">(.*?)</pre>', html, re.S)
    assert match, html
    return dict(json.loads(unescape(match.group(1))))


@contextmanager
def signed_in(server: Server, idp: IdP, username: str = "alice") -> Iterator[httpx.Client]:
    http = sign_in(server.url, idp, username, return_to="/profile")
    try:
        yield http
    finally:
        http.close()


def test_public_page_and_protected_routes_when_signed_out(example: Server) -> None:
    with example.client(timeout=10) as http:
        home = http.get("/", headers=BROWSER)
        assert home.status_code == 200
        assert 'id="sign-in"' in home.text and 'id="sign-out"' not in home.text

        page = http.get("/profile", headers=BROWSER)
        assert page.status_code == 302
        assert page.headers["location"] == "/sign-in?return_to=%2Fprofile"

        api = http.get("/api/dashboard", headers=FETCH)
        assert api.status_code == 401
        assert api.headers["www-authenticate"].startswith("Bearer")
        assert api.json()["error"] == "not_signed_in"

        assert http.get("/api/me", headers=FETCH).status_code == 401


def test_profile_shows_claims_and_the_apis_view_in_every_worker(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    with signed_in(example, idp_reset) as http:
        for _ in range(4):  # gunicorn: the requests land on both workers
            page = http.get("/profile", headers=BROWSER)
            assert page.status_code == 200, page.text
            assert "Alice Liddell" in page.text
            assert 'class="claim-sub">user-alice<' in page.text
            shown = api_profile(page.text)  # what the protected API answered
            assert shown["sub"] == "user-alice" and shown["client_id"] == "conf-client"
    assert protected_api.counts()["calls"] == {"/users/me": 4}


def test_parallel_calls_share_one_refresh_when_the_api_rejects_the_token(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    with signed_in(example, idp_reset) as http:
        protected_api.reject_next(2)  # both parallel calls get 401 with the first token
        response = http.get("/api/dashboard", headers=FETCH)
        assert response.status_code == 200, response.text
        data = response.json()
    assert data["profile"]["sub"] == "user-alice"
    assert [o["name"] for o in data["organizations"]] == ["Wonderland Inc.", "Looking Glass Ltd."]
    counts = protected_api.counts()
    assert counts["calls"] == {"/users/me": 2, "/organizations": 2}
    assert counts["rejected"] == 2
    first, renewed = counts["tokens"][:2], counts["tokens"][2:]
    assert len(set(first)) == 1 and len(set(renewed)) == 1 and first != renewed
    assert idp_reset.refresh_grants() == 1  # two 401s, one refresh
    assert idp_reset.counts()["refresh_reuse"] == 0


def test_client_outside_a_protected_route_checks_the_session(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    with signed_in(example, idp_reset) as http:
        response = http.get("/api/me", headers=FETCH)
        assert response.status_code == 200, response.text
        assert response.json()["sub"] == "user-alice"
        assert response.json()["name"] == "Alice Liddell"
    unknown = {"__thunderid__session": "A" * 43}  # a well-formed id of no session
    with example.client(timeout=10, cookies=unknown) as stranger:
        assert stranger.get("/api/me", headers=FETCH).status_code == 401
    assert protected_api.counts()["calls"] == {"/users/me": 1}


def test_account_switch_token_exchange_replaces_the_session(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    with signed_in(example, idp_reset) as http:
        token = csrf_token(http.get("/profile", headers=BROWSER).text)
        refused = http.post("/switch-account", data={"username": "bob"}, headers=BROWSER)
        assert refused.status_code == 403  # no CSRF token
        unknown = http.post("/switch-account", data={"csrf_token": token, "username": "nobody"})
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "invalid_grant"

        switched = http.post("/switch-account", data={"csrf_token": token, "username": "bob"})
        assert switched.status_code == 303 and switched.headers["location"] == "/profile"
        page = http.get("/profile", headers=BROWSER)
        assert page.status_code == 200
        assert "Bob Builder" in page.text and "Alice" not in page.text
        dashboard = http.get("/api/dashboard", headers=FETCH).json()
        assert dashboard["profile"]["sub"] == "user-bob"  # the API sees the new token
    counts = idp_reset.token_counts("account_switch")
    assert counts == {"calls": 2, "ok": 1, "errors": 1}


def test_rfc8693_token_exchange_gives_a_narrower_token(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    with signed_in(example, idp_reset) as http:
        response = http.get("/api/exchanged-token", headers=FETCH)
        assert response.status_code == 200, response.text
        result = response.json()
        assert http.get("/api/dashboard", headers=FETCH).json()["profile"]["name"] == (
            "Alice Liddell"  # the session keeps its own, wider token
        )
    assert result["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert result["scope"] == "openid"
    assert result["api_sees"]["sub"] == "user-alice"
    assert "name" not in result["api_sees"]  # only `openid`: no profile claims
    assert idp_reset.token_counts(TOKEN_EXCHANGE)["ok"] == 1


def test_revoke_ends_the_session_and_revokes_at_the_provider(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    with signed_in(example, idp_reset) as http:
        token = csrf_token(http.get("/profile", headers=BROWSER).text)
        assert idp_reset.counts()["revocations"] == 0
        response = http.post("/revoke", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert idp_reset.counts()["revocations"] >= 1
        home = http.get("/", headers=BROWSER)
        assert "Your session ended (revoked)" in home.text
        api = http.get("/api/dashboard", headers=FETCH)
        assert api.status_code == 401
        assert "revoked" in api.json()["message"]  # the answer says why...
        assert "Max-Age=0" in api.headers["set-cookie"]  # ...and drops the stale cookie
        again = http.get("/profile", headers=BROWSER)
        assert again.status_code == 302 and again.headers["location"].startswith("/sign-in")


def test_sign_out_button_revokes_and_signs_out_at_the_provider(
    example: Server, idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    browser = httpx.Client(timeout=10)  # keeps the IdP's cookies between sign-in and out
    with example.client(timeout=10) as http, browser:
        start = http.get("/sign-in", params={"return_to": "/profile"})
        callback = idp_reset.login(browser, start.headers["location"], "alice")
        assert http.get(callback[len(example.url) :]).status_code == 302
        page = http.get("/profile", headers=BROWSER)
        assert 'id="sign-out"' in page.text

        response = http.post("/sign-out", data={"csrf_token": csrf_token(page.text)})
        assert response.status_code == 303
        end_session = response.headers["location"]
        assert end_session.startswith(idp_reset.metadata["end_session_endpoint"])
        assert "id_token_hint" in parse_qs(urlsplit(end_session).query)
        assert idp_reset.counts()["revocations"] >= 1  # revoked before leaving

        final = idp_reset.logout(browser, end_session)
        (state,) = parse_qs(urlsplit(end_session).query)["state"]
        assert final == example.url + "/?state=" + state  # checked, then dropped:
        back = http.get(final[len(example.url) :], headers=BROWSER)
        assert back.status_code == 303 and back.headers["location"] == example.url + "/"
        assert "__thunderid__session" not in http.cookies
        home = http.get("/", headers=BROWSER)
        assert 'id="sign-in"' in home.text
        assert http.get("/profile", headers=BROWSER).status_code == 302
