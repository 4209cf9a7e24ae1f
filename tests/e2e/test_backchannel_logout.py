"""OpenID Connect Back-Channel Logout against the real test IdP: signing out at the IdP
ends the app's session through a signed logout token POSTed to /backchannel-logout."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.idp import IdP, start_idp
from tests.support.servers import Server, app_env, free_port, sign_in, start_server

APPS = {"gunicorn": "tests.apps.wsgi_app:app", "uvicorn": "tests.apps.asgi_app:app"}


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def bcl_idp(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[IdP]:
    idp = start_idp(
        tmp_path_factory.mktemp("bcl-idp"),
        env={"BACKCHANNEL_LOGOUT_URI": f"http://127.0.0.1:{port}/backchannel-logout"},
    )
    yield idp
    idp.stop()


@pytest.fixture(scope="module", params=sorted(APPS))
def app(
    request: pytest.FixtureRequest,
    bcl_idp: IdP,
    port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    kind = request.param
    tmp = tmp_path_factory.mktemp(kind)
    server = start_server(
        kind,
        APPS[kind],
        app_env(bcl_idp, port, f"sqlite:///{tmp}/s.sqlite3"),
        port=port,
        workers=2,
        log_dir=tmp,
    )
    yield server
    server.stop()


def _idp_sign_out(idp: IdP, browser: httpx.Client) -> None:
    """Sign out at the IdP itself (as if from another app): no id_token_hint."""
    end_session = idp.metadata["end_session_endpoint"]
    idp.logout(browser, f"{end_session}?client_id={idp.conf_client_id}")


def test_logout_at_the_provider_ends_the_session(app: Server, bcl_idp: IdP) -> None:
    rp = httpx.Client(base_url=app.url, timeout=30.0)
    response = rp.get("/sign-in", params={"return_to": "/private"})
    browser = httpx.Client(timeout=30.0)
    callback = bcl_idp.login(browser, response.headers["location"], "alice")
    assert rp.get(callback[len(app.url) :]).status_code == 302
    assert rp.get("/api/whoami").json()["sub"] == "user-alice"
    other = sign_in(app.url, bcl_idp, "bob")  # another user's session must survive

    _idp_sign_out(bcl_idp, browser)

    assert "ended=logged_out_by_provider" in rp.get("/public").text
    assert rp.get("/api/whoami").status_code == 401
    assert other.get("/api/whoami").json()["sub"] == "user-bob"


def test_forged_logout_tokens_are_refused(app: Server, bcl_idp: IdP) -> None:
    """Unsigned (alg none), missing or GET: refused, the session stays. A replayed token
    is refused in tests/core/test_backchannel.py (the jti memory is the core's)."""
    client = sign_in(app.url, bcl_idp, "alice")
    raw = httpx.Client(base_url=app.url)
    assert raw.post("/backchannel-logout", data={}).status_code == 400
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLWFsaWNlIn0."
    answer = raw.post("/backchannel-logout", data={"logout_token": forged})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert raw.get("/backchannel-logout").status_code == 405
    assert client.get("/api/whoami").json()["sub"] == "user-alice"
