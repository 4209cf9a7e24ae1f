"""DPoP against the ThunderID profile (its `/oauth2/*` endpoints on https, a nonce always
required): sign-in, an API call with ``ctx.auth()`` proofs, refresh with a proof, and the
token alone refused, on gunicorn and uvicorn. The default profile's run is
tests/tokens/test_dpop.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.idp import IdP, introspect
from tests.support.protected_api import ProtectedAPI
from tests.tokens.harness import App, stored_record
from thunderid_mw.core.dpop import thumbprint


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_in_api_call_and_refresh_with_dpop(
    thunderid: IdP, start_app: Any, thunderid_api: Any, kind: str
) -> None:
    idp = thunderid
    api = ProtectedAPI(thunderid_api.url, thunderid_api)
    app: App = start_app(kind, idp=idp, THUNDERID_DPOP="1", PROTECTED_API_URL=api.url)
    app.sign_in(idp)
    first = stored_record(app.store_path, app.cookie).tokens
    assert first.token_type == "DPoP" and first.dpop_key is not None
    jkt = thumbprint(first.dpop_key)
    assert introspect(idp, first.access_token)["cnf"] == {"jkt": jkt}

    called = app.get("/api/upstream").json()
    assert called["status"] == 200, called
    alone = httpx.get(
        f"{api.url}/users/me", headers={"Authorization": f"DPoP {first.access_token}"}, timeout=10
    )
    assert alone.status_code == 401, alone.text  # the token without a proof

    # The API refuses the token once: ctx.auth() refreshes (with a proof) and calls again.
    api.reject_next(1)
    called = app.get("/api/upstream").json()
    assert called["status"] == 200, called
    refreshed = stored_record(app.store_path, app.cookie).tokens
    assert refreshed.access_token != first.access_token and refreshed.token_type == "DPoP"
    assert introspect(idp, refreshed.access_token)["cnf"] == {"jkt": jkt}
    assert idp.token_counts("refresh_token") == {"calls": 1, "ok": 1, "errors": 0}
