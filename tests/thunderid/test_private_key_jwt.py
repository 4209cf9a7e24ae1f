"""``private_key_jwt`` against the ThunderID profile (one registered method per client,
assertion ``aud`` = the issuer): sign-in, refresh and sign-out with assertions on gunicorn
and uvicorn. The default profile's run, with the API call and the wrong key, is
tests/tokens/test_private_key_jwt.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.idp import IdP
from tests.support.waits import sleep_until
from tests.tokens.harness import App, sign_out_with_form, stored_record


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_in_refresh_and_sign_out_with_private_key_jwt(
    thunderid: IdP, start_app: Any, kind: str
) -> None:
    idp = thunderid
    app: App = start_app(
        kind,
        idp=idp,
        THUNDERID_REFRESH_LEEWAY="0",
        THUNDERID_CLIENT_ID=idp.pkjwt_client_id,
        THUNDERID_CLIENT_SECRET="",
        THUNDERID_TOKEN_ENDPOINT_AUTH_METHOD="private_key_jwt",
        THUNDERID_CLIENT_PRIVATE_KEY=idp.pkjwt_private_key,
    )
    idp.set_access_token_ttl(2)
    app.sign_in(idp)
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    first = stored_record(app.store_path, app.cookie).tokens
    sleep_until(first.expires_at or 0)
    refreshed = app.token()
    assert refreshed != first.access_token
    assert idp.token_counts("refresh_token")["errors"] == 0
    signed_out = sign_out_with_form(app)
    assert signed_out.status_code == 303, signed_out.text
    assert idp.counts()["revocations"] == 2  # refresh token, then access token
