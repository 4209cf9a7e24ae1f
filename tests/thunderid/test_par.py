"""Pushed authorization requests against the ThunderID profile (its PAR endpoint at
``/oauth2/par`` on https, one client-auth method per client): sign in with the request
pushed (``client_secret_basic`` on gunicorn, ``private_key_jwt`` on uvicorn), the browser
sent with only ``client_id`` and ``request_uri``, then an API call with the user's token.
The default profile's run is tests/tokens/test_par.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.idp import IdP
from tests.tokens.harness import App
from tests.tokens.test_par import assert_api_call_works, sign_in_pushed


@pytest.mark.parametrize(
    ("kind", "auth_method"), [("wsgi", "client_secret_basic"), ("asgi", "private_key_jwt")]
)
def test_sign_in_with_par_then_call_the_api(
    thunderid: IdP, start_app: Any, thunderid_api: Any, kind: str, auth_method: str
) -> None:
    idp = thunderid
    if auth_method == "private_key_jwt":
        client_id = idp.pkjwt_client_id
        auth = {
            "THUNDERID_CLIENT_ID": client_id,
            "THUNDERID_CLIENT_SECRET": "",
            "THUNDERID_CLIENT_PRIVATE_KEY": idp.pkjwt_private_key,
        }
    else:
        client_id, auth = "conf-client", {}
    assert idp.metadata["pushed_authorization_request_endpoint"].endswith("/oauth2/par")
    app: App = start_app(
        kind,
        idp=idp,
        THUNDERID_PUSHED_AUTHORIZATION_REQUESTS="always",
        THUNDERID_TOKEN_ENDPOINT_AUTH_METHOD=auth_method,
        PROTECTED_API_URL=thunderid_api.url,
        **auth,
    )
    sign_in_pushed(app, idp)
    assert_api_call_works(app, client_id)
