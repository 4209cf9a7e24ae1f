"""``private_key_jwt`` against the real test IdP, whose ``pkjwt-client`` knows only the
public half of the key the tests hold: the apps under gunicorn and uvicorn sign in,
refresh and call the protected API with RFC 7523 client assertions, and sign out (the
revocation is client-authenticated the same way). A key the provider does not know is the
operator's problem: a 502 page and an ERROR line naming the method."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.support.idp import IdP, introspect
from tests.support.protected_api import ProtectedAPI
from tests.support.waits import sleep_until
from tests.tokens.harness import BROWSER, COOKIE_NAME, App, sign_out_with_form, stored_record

LOG_WAIT = 10.0

SHORT_TTL = 2  # seconds: the test waits for the token to expire, then the app refreshes


def _pkjwt_env(idp: IdP, private_key: str) -> dict[str, str]:
    return {
        "THUNDERID_CLIENT_ID": idp.pkjwt_client_id,
        "THUNDERID_CLIENT_SECRET": "",
        "THUNDERID_TOKEN_ENDPOINT_AUTH_METHOD": "private_key_jwt",
        "THUNDERID_CLIENT_PRIVATE_KEY": private_key,
    }


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_in_refresh_api_call_and_sign_out_with_private_key_jwt(
    start_app: Callable[..., App], idp_reset: IdP, protected_api: ProtectedAPI, kind: str
) -> None:
    idp = idp_reset
    app = start_app(kind, THUNDERID_REFRESH_LEEWAY="0", **_pkjwt_env(idp, idp.pkjwt_private_key))
    idp.set_access_token_ttl(SHORT_TTL)
    app.sign_in(idp)  # the code exchange, authenticated with an assertion
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    first = stored_record(app.store_path, app.cookie).tokens
    assert first.expires_at is not None
    before = idp.refresh_grants()
    sleep_until(first.expires_at)
    refreshed = app.token()  # expired: the middleware refreshes, again with an assertion
    assert idp.refresh_grants() > before
    assert refreshed != first.access_token
    assert idp.token_counts("refresh_token")["errors"] == 0

    answer = httpx.get(
        f"{protected_api.url}/users/me",
        headers={"Authorization": f"Bearer {refreshed}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["client_id"] == idp.pkjwt_client_id

    signed_out = sign_out_with_form(app)  # revocation authenticated with an assertion
    assert signed_out.status_code == 303, signed_out.text
    assert idp.counts()["revocations"] == 2  # refresh token, then access token
    assert introspect(idp, refreshed)["active"] is False


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_key_the_provider_does_not_know_is_a_502_and_an_error_naming_the_method(
    start_app: Callable[..., App], idp_reset: IdP, kind: str
) -> None:
    stranger = ECKey.generate_key("P-256", {"kid": "pkjwt-test"})
    app = start_app(kind, **_pkjwt_env(idp_reset, stranger.as_pem(private=True).decode()))
    with httpx.Client(base_url=app.url, timeout=30.0) as rp:
        started = rp.get("/sign-in", params={"return_to": "/private"}, headers=BROWSER)
        assert started.status_code == 302, started.text
        with httpx.Client(timeout=30.0) as browser:
            callback = idp_reset.login(browser, started.headers["location"])
        answer = rp.get(callback[len(app.url) :], headers=BROWSER)
        assert answer.status_code == 502, answer.text
        assert "client_rejected" in answer.text
        assert not rp.cookies.get(COOKIE_NAME)
    deadline = time.monotonic() + LOG_WAIT
    while "config.client_rejected" not in app.server.log():
        assert time.monotonic() < deadline, f"no config.client_rejected log:\n{app.server.log()}"
        time.sleep(0.1)
    line = next(row for row in app.server.log().splitlines() if "config.client_rejected" in row)
    assert "private_key_jwt" in line and idp_reset.pkjwt_client_id in line, line
    assert "PRIVATE KEY" not in app.server.log()
