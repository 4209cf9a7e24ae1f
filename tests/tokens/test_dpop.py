"""DPoP (RFC 9449) against the real test IdP (DPoP on, a nonce always required) and the
protected API (which checks htm, htu, ath and the key binding): the apps under gunicorn and
uvicorn sign in with a per-session key kept sealed in the session record, get bound tokens
(after meeting ``use_dpop_nonce``), refresh them with proofs, and call the API through
``ctx.auth()`` with a fresh proof each time; the token alone is refused."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.idp import IdP, introspect
from tests.support.protected_api import ProtectedAPI
from tests.tokens.harness import App, stored_record
from thunderid_mw.core.dpop import thumbprint


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_in_refresh_and_api_calls_with_dpop(
    start_app: Callable[..., App], idp_reset: IdP, protected_api: ProtectedAPI, kind: str
) -> None:
    idp = idp_reset
    app = start_app(kind, THUNDERID_DPOP="1", PROTECTED_API_URL=protected_api.url)
    app.sign_in(idp)
    first = stored_record(app.store_path, app.cookie).tokens
    assert first.token_type == "DPoP" and first.dpop_key is not None
    jkt = thumbprint(first.dpop_key)
    assert introspect(idp, first.access_token)["cnf"] == {"jkt": jkt}

    # The token alone, as a thief would send it, is refused (either scheme).
    for scheme in ("Bearer", "DPoP"):
        alone = httpx.get(
            f"{protected_api.url}/users/me",
            headers={"Authorization": f"{scheme} {first.access_token}"},
            timeout=10,
        )
        assert alone.status_code == 401, alone.text

    called = app.get("/api/upstream").json()
    assert called["status"] == 200, called
    assert called["body"]["sub"] == idp.subjects["alice"]

    # The API refuses the token once: ctx.auth() refreshes (with a proof) and calls again.
    # (Waiting for the token to expire instead takes the same refresh flow, and on a loaded
    # machine lets the first token lapse before it can be checked.)
    protected_api.reject_next(1)
    called = app.get("/api/upstream").json()
    assert called["status"] == 200, called
    refreshed = stored_record(app.store_path, app.cookie).tokens
    assert refreshed.access_token != first.access_token
    assert refreshed.token_type == "DPoP" and refreshed.dpop_key == first.dpop_key
    assert introspect(idp, refreshed.access_token)["cnf"] == {"jkt": jkt}
    assert idp.token_counts("refresh_token") == {"calls": 1, "ok": 1, "errors": 0}


def test_without_dpop_the_tokens_stay_bearer(start_app: Callable[..., App], idp_reset: IdP) -> None:
    app = start_app("wsgi")
    app.sign_in(idp_reset)
    tokens = stored_record(app.store_path, app.cookie).tokens
    assert tokens.token_type.lower() == "bearer" and tokens.dpop_key is None
    assert "cnf" not in introspect(idp_reset, tokens.access_token)
