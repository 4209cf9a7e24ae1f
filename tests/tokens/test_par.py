"""Pushed authorization requests (RFC 9126) against the real test IdP: the apps under
gunicorn and uvicorn push the sign-in (``always``, or ``auto`` at a provider whose metadata
requires it), the browser is sent with only ``client_id`` and ``request_uri``, and the
user's token then calls the protected API (with DPoP too: the code bound to the session's
key). A client the PAR endpoint refuses is a 502 page. The client API's sign-in URL is
pushed the same way. The ThunderID profile's run (with ``private_key_jwt``) is
tests/thunderid/test_par.py; the core's answers to every PAR failure are
tests/core/test_par.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP, introspect, start_idp
from tests.support.protected_api import ProtectedAPI
from tests.support.servers import session_cookie
from tests.tokens.harness import BROWSER, App, client_sign_in, stored_record
from thunderid_mw import ThunderIDClient
from thunderid_mw.core.dpop import thumbprint

LOG_WAIT = 10.0  # seconds for the server's log line to reach its file
# What the authorization request holds; none of it may appear in the browser's URL.
PUSHED = {
    "client_id",
    "code_challenge",
    "code_challenge_method",
    "max_age",
    "nonce",
    "prompt",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
}


def sign_in_pushed(app: App, idp: IdP) -> None:
    """Sign in through ``/sign-in`` with step-up values; the authorization URL the browser
    is sent to must carry only ``client_id`` and ``request_uri``."""
    with httpx.Client(base_url=app.url, timeout=30.0) as rp:
        started = rp.get(
            "/sign-in",
            params={"return_to": "/private", "prompt": "login", "max_age": "600"},
            headers=BROWSER,
        )
        assert started.status_code == 302, started.text
        authorize = started.headers["location"]
        assert authorize.startswith(idp.metadata["authorization_endpoint"] + "?"), authorize
        query = parse_qs(urlsplit(authorize).query)
        assert set(query) == {"client_id", "request_uri"}, query
        assert query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:")
        counts = idp.counts()
        assert counts["pushed_authorization_requests"] == 1
        assert set(counts["last_pushed_params"]) >= PUSHED, counts["last_pushed_params"]
        with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
            callback = idp.login(browser, authorize)
        assert callback.startswith(app.url), callback
        done = rp.get(callback[len(app.url) :], headers=BROWSER)
        assert done.status_code == 302, done.text
        assert done.headers["location"] == "/private"
        app.cookie = session_cookie(rp)


def assert_api_call_works(app: App, client_id: str) -> None:
    called = app.get("/api/upstream").json()  # ctx.auth(): the user's token
    assert called["status"] == 200, called
    assert called["body"]["client_id"] == client_id


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_in_with_par_then_call_the_api(
    start_app: Callable[..., App], idp_reset: IdP, protected_api: ProtectedAPI, kind: str
) -> None:
    app = start_app(
        kind, THUNDERID_PUSHED_AUTHORIZATION_REQUESTS="always", PROTECTED_API_URL=protected_api.url
    )
    sign_in_pushed(app, idp_reset)
    assert_api_call_works(app, "conf-client")


def test_with_dpop_the_pushed_request_binds_the_code_to_the_sessions_key(
    start_app: Callable[..., App], idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    app = start_app(
        "wsgi",
        THUNDERID_PUSHED_AUTHORIZATION_REQUESTS="always",
        THUNDERID_DPOP="1",
        PROTECTED_API_URL=protected_api.url,
    )
    sign_in_pushed(app, idp_reset)
    assert "dpop_jkt" in idp_reset.counts()["last_pushed_params"]
    tokens = stored_record(app.store_path, app.cookie).tokens
    assert tokens.token_type == "DPoP" and tokens.dpop_key is not None
    assert introspect(idp_reset, tokens.access_token)["cnf"] == {"jkt": thumbprint(tokens.dpop_key)}
    assert_api_call_works(app, "conf-client")  # ctx.auth() adds the proof


@pytest.fixture(scope="module")
def idp_par_required(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    """A test IdP whose metadata says require_pushed_authorization_requests (and which
    refuses an authorization request that was not pushed)."""
    server = start_idp(Path(tmp_path_factory.mktemp("idp_par")), env={"PAR_REQUIRED": "1"})
    try:
        yield server
    finally:
        server.stop()


def test_auto_pushes_when_the_provider_requires_it(
    start_app: Callable[..., App], idp_par_required: IdP
) -> None:
    assert idp_par_required.metadata["require_pushed_authorization_requests"] is True
    app = start_app("asgi", idp=idp_par_required)  # pushed_authorization_requests: auto
    sign_in_pushed(app, idp_par_required)
    assert app.get("/api/whoami").status_code == 200


def test_a_client_the_par_endpoint_refuses_is_a_502_naming_the_configuration(
    start_app: Callable[..., App], idp_reset: IdP
) -> None:
    app = start_app("wsgi", THUNDERID_PUSHED_AUTHORIZATION_REQUESTS="always")
    idp_reset.fail("pushed_authorization_request", 401, error="invalid_client")
    answer = httpx.get(app.url + "/sign-in", headers=BROWSER, timeout=30)
    assert answer.status_code == 502, answer.text
    assert "client_rejected" in answer.text and "Sign in again" not in answer.text
    deadline = time.monotonic() + LOG_WAIT
    while "config.client_rejected" not in app.server.log():
        assert time.monotonic() < deadline, f"no config.client_rejected log:\n{app.server.log()}"
        time.sleep(0.1)
    line = next(row for row in app.server.log().splitlines() if "config.client_rejected" in row)
    assert "pushed authorization request endpoint" in line and "conf-client" in line, line


def test_the_client_apis_sign_in_url_is_pushed_too(
    sync_client: Callable[..., ThunderIDClient], idp_reset: IdP
) -> None:
    client = sync_client(pushed_authorization_requests="always")
    url = client.get_sign_in_url("session-1")
    assert set(parse_qs(urlsplit(url).query)) == {"client_id", "request_uri"}
    assert idp_reset.counts()["pushed_authorization_requests"] == 1
    client_sign_in(client, idp_reset, "session-1")  # the sealed state came back through
    assert client.get_access_token("session-1")
