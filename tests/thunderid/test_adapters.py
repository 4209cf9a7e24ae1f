"""Both adapters (WSGI under gunicorn, ASGI under uvicorn) against the IdP's ThunderID
profile over HTTPS: sign-in, a refresh storm that refreshes once and keeps the sign-in's
auth_time in ``ctx.user`` (ThunderID's refreshed ID token has none), and sign-out with
revocation of the token family."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP, userinfo_status
from tests.support.waits import sleep_until
from tests.tokens.harness import (
    BROWSER,
    App,
    fire_tasks,
    fire_threads,
    refresh_counts,
    sign_out_with_form,
    stored_record,
)

N = 16
SHORT_TTL = 2


def _whoami(app: App) -> dict[str, Any]:
    response = app.get("/api/whoami")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _storm(kind: str, app: App, expires_at: float) -> list[httpx.Response]:
    if kind == "wsgi":
        return fire_threads(app, "/api/token", N, before=lambda: sleep_until(expires_at))
    return asyncio.run(fire_tasks(app, "/api/token", N, expires_at=expires_at))


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_sign_in_refresh_storm_and_sign_out(thunderid: IdP, start_app: Any, kind: str) -> None:
    idp = thunderid
    extra = {"threads": 32} if kind == "wsgi" else {}
    app: App = start_app(kind, idp=idp, THUNDERID_REFRESH_LEEWAY="0", **extra)
    idp.set_access_token_ttl(SHORT_TTL)
    app.sign_in(idp)
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    signed_in = _whoami(app)
    assert signed_in["sub"] == "user-alice"
    assert isinstance(signed_in["auth_time"], int)
    old = app.token()
    assert refresh_counts(idp) == (0, 0)

    responses = _storm(kind, app, app.expires_at())

    assert [r.status_code for r in responses] == [200] * N, [r.text[:200] for r in responses]
    tokens = {r.json()["access_token"] for r in responses}
    assert len(tokens) == 1 and old not in tokens
    assert refresh_counts(idp) == (1, 0), idp.counts()  # one refresh, no reuse revocation
    (new,) = tokens
    assert userinfo_status(idp, new) == 200
    after = _whoami(app)
    assert (after["sub"], after["auth_time"]) == ("user-alice", signed_in["auth_time"])
    record = stored_record(app.store_path, app.cookie)
    assert record.claims["auth_time"] == signed_in["auth_time"]
    assert "sid" not in record.claims

    response = sign_out_with_form(app)

    assert response.status_code == 303, response.text  # See Other: the POST becomes a GET
    assert response.headers["location"].startswith(idp.metadata["end_session_endpoint"])
    # ThunderID echoes the end-session request's state; the app checks it against the
    # browser's sign-out cookie and goes on to after_sign_out_url without it.
    (state,) = parse_qs(urlsplit(response.headers["location"]).query)["state"]
    assert response.cookies["__thunderid__session.so"] == state
    with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
        landed = idp.logout(browser, response.headers["location"])
    assert parse_qs(urlsplit(landed).query)["state"] == [state]
    back = httpx.get(
        landed, cookies={"__thunderid__session.so": state}, headers=BROWSER, timeout=30
    )
    assert back.status_code == 303, back.text
    assert "state" not in back.headers["location"]
    assert back.headers["location"] == landed.split("?")[0]
    assert idp.counts()["revocations"] >= 1
    assert userinfo_status(idp, new) == 401  # revocation took the whole family
    assert app.get("/api/whoami").status_code == 401
