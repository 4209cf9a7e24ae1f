"""Revocation (RFC 7009) and sign-out: tokens are revoked at the IdP before the browser
goes to the end-session endpoint, and a dead revocation endpoint never blocks the local
sign-out."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP, introspect
from tests.tokens.harness import (
    App,
    client_record,
    client_sign_in,
    sign_out_with_form,
    stored_record,
)
from thunderid_mw import NotSignedIn, ThunderIDClient

KINDS = ["wsgi", "asgi"]


def _assert_signed_out(idp: IdP, app: App, response: httpx.Response, id_token: str) -> None:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(idp.metadata["end_session_endpoint"] + "?")
    params = parse_qs(urlsplit(location).query)
    assert params["id_token_hint"] == [id_token]
    assert params["post_logout_redirect_uri"] == [app.url + "/public"]
    assert "__thunderid__session=;" in response.headers["set-cookie"]
    # The session is over (even for a client that kept the old cookie).
    assert app.get("/public", api=False).text == "public signed_in=False ended=signed_out"
    assert app.get("/api/whoami").status_code == 401


@pytest.mark.parametrize("kind", KINDS)
def test_sign_out_revokes_then_redirects(idp_reset: IdP, start_app: Any, kind: str) -> None:
    idp = idp_reset
    app = start_app(kind)
    app.sign_in(idp)
    tokens = stored_record(app.store_path, app.cookie).tokens
    assert tokens.refresh_token and tokens.id_token
    assert introspect(idp, tokens.access_token)["active"] is True

    response = sign_out_with_form(app)

    _assert_signed_out(idp, app, response, tokens.id_token)
    assert idp.counts()["revocations"] == 2  # refresh token, then access token
    assert introspect(idp, tokens.access_token)["active"] is False
    assert introspect(idp, tokens.refresh_token)["active"] is False


@pytest.mark.parametrize("kind", KINDS)
def test_sign_out_succeeds_when_revocation_fails(idp_reset: IdP, start_app: Any, kind: str) -> None:
    idp = idp_reset
    app = start_app(kind)
    app.sign_in(idp)
    tokens = stored_record(app.store_path, app.cookie).tokens
    assert tokens.id_token
    idp.fail("revocation", 503, times=-1)

    response = sign_out_with_form(app)

    _assert_signed_out(idp, app, response, tokens.id_token)
    assert idp.counts()["revocations"] >= 1  # it tried
    assert app.server.process.poll() is None
    assert "Traceback" not in app.server.log()


def test_client_revoke_access_token(idp_reset: IdP, sync_client: Any) -> None:
    idp = idp_reset
    client: ThunderIDClient = sync_client()
    session_id = uuid.uuid4().hex
    client_sign_in(client, idp, session_id)
    tokens = client_record(client, session_id).tokens
    assert tokens.refresh_token

    client.revoke_access_token(session_id)

    assert idp.counts()["revocations"] == 2
    assert introspect(idp, tokens.access_token)["active"] is False
    assert introspect(idp, tokens.refresh_token)["active"] is False
    assert client.is_signed_in(session_id) is False
    assert client.context_for_session(session_id).ended_reason == "revoked"
    with pytest.raises(NotSignedIn) as raised:
        client.get_access_token(session_id)
    assert raised.value.reason == "revoked"


def test_client_sign_out_when_revocation_fails(idp_reset: IdP, sync_client: Any) -> None:
    idp = idp_reset
    client: ThunderIDClient = sync_client()
    session_id = uuid.uuid4().hex
    client_sign_in(client, idp, session_id)
    id_token = client.get_id_token(session_id)
    idp.fail("revocation", 503, times=-1)

    url = client.sign_out(session_id)

    assert parse_qs(urlsplit(url).query)["id_token_hint"] == [id_token]
    assert idp.counts()["revocations"] >= 1
    assert client.is_signed_in(session_id) is False
    assert client.context_for_session(session_id).ended_reason == "signed_out"


@pytest.mark.parametrize("hint", ["id_token_hint", "client_id"])
def test_end_session_hint_alone_is_enough_for_the_idp(
    idp_reset: IdP, sync_client: Any, hint: str
) -> None:
    """Either identifier on its own ends the IdP session and returns to the app."""
    idp = idp_reset
    client: ThunderIDClient = sync_client(end_session_hint=hint)
    session_id = uuid.uuid4().hex
    with httpx.Client(timeout=10, verify=idp.verify) as browser:
        location = idp.login(browser, client.get_sign_in_url(session_id), "alice")
        params = parse_qs(urlsplit(location).query)
        client.sign_in(
            session_id, params["code"][0], params["state"][0], iss=params.get("iss", [None])[0]
        )

        url = client.sign_out(session_id)
        sent = parse_qs(urlsplit(url).query)
        assert set(sent) - {"post_logout_redirect_uri"} == {hint}

        landed = idp.logout(browser, url)
        assert landed == client.config.post_sign_out_url
        # The IdP session is over: signing in again asks for the password.
        again = browser.get(client.get_sign_in_url(uuid.uuid4().hex), follow_redirects=True)
        assert 'name="password"' in again.text
