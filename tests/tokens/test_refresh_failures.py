"""When a refresh cannot happen: a waiter gives up after the wait limit (503, not forever),
the IdP rejects the grant for real (the session ends, the context says why), and the IdP
is down (a still-valid token keeps serving, an expired one gets 503, the session is kept).
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP, introspect, userinfo_status
from tests.support.waits import asleep_until, sleep_until
from tests.tokens.harness import (
    aclient_sign_in,
    async_client,
    client_record,
    client_sign_in,
    fire_threads,
    refresh_at_idp,
    refresh_counts,
    revoke_at_idp,
    stored_record,
)
from thunderid_mw import NotSignedIn

KINDS = ["wsgi", "asgi"]


def _assert_503_retry_after(response: httpx.Response, words: str) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert words in body["message"], body


@pytest.mark.parametrize("kind", KINDS)
def test_waiters_give_up_with_503_then_session_works(
    idp_reset: IdP, start_app: Any, kind: str
) -> None:
    """The IdP takes 2.5 s to answer the refresh; requests that wait for it give up after
    THUNDERID_REFRESH_WAIT_TIMEOUT=1 with a 503 + Retry-After; the refresh itself lands."""
    idp = idp_reset
    app = start_app(
        kind,
        threads=16,
        THUNDERID_REFRESH_LEEWAY="0",
        THUNDERID_REFRESH_WAIT_TIMEOUT="1",
        THUNDERID_HTTP_TIMEOUT="10",
    )
    idp.set_access_token_ttl(2)
    app.sign_in(idp)
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    old, expires_at = app.token(), app.expires_at()

    def at_expiry() -> None:
        idp.delay("token", 2500)
        sleep_until(expires_at)

    responses = fire_threads(app, "/api/token", 8, before=at_expiry)

    by_status: dict[int, list[httpx.Response]] = {}
    for r in responses:
        by_status.setdefault(r.status_code, []).append(r)
    assert set(by_status) <= {200, 503}, [(r.status_code, r.text[:200]) for r in responses]
    assert len(by_status.get(503, [])) >= 1, "no request gave up waiting"
    for r in by_status[503]:
        _assert_503_retry_after(r, "timed out waiting")
    new_tokens = {r.json()["access_token"] for r in by_status.get(200, [])}
    assert old not in new_tokens
    assert len(new_tokens) <= 1
    # The refresh itself runs in the background and lands once the IdP answers.
    deadline = time.monotonic() + 10
    while refresh_counts(idp) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refresh_counts(idp) == (1, 0)

    idp.delay("token", 0)
    new = app.token()
    assert new != old
    assert new_tokens <= {new}
    assert userinfo_status(idp, new) == 200
    assert refresh_counts(idp) == (1, 0)
    assert app.server.process.poll() is None
    assert "Traceback" not in app.server.log()


@pytest.mark.parametrize("kind", KINDS)
def test_grant_revoked_at_idp_ends_the_session(idp_reset: IdP, start_app: Any, kind: str) -> None:
    idp = idp_reset
    app = start_app(kind, THUNDERID_REFRESH_LEEWAY="0")
    idp.set_access_token_ttl(2)
    app.sign_in(idp)
    record = stored_record(app.store_path, app.cookie)
    assert record.tokens.refresh_token and record.tokens.expires_at
    revoke_at_idp(idp, record.tokens.refresh_token)  # e.g. an administrator revoked it
    sleep_until(record.tokens.expires_at)

    browser = app.get("/private", api=False, follow_redirects=False)
    assert browser.status_code == 302
    location = browser.headers["location"]
    assert urlsplit(location).path == "/sign-in"
    assert parse_qs(urlsplit(location).query)["return_to"] == ["/private"]

    api = app.get("/api/whoami")
    assert api.status_code == 401
    assert "refresh_rejected" in api.headers["WWW-Authenticate"]
    assert api.json()["error"] == "not_signed_in"

    public = app.get("/public", api=False)
    assert public.status_code == 200
    assert public.text == "public signed_in=False ended=refresh_rejected"
    # One refresh attempt, rejected; the ended session does not try again.
    counts = idp.token_counts("refresh_token")
    assert (counts["ok"], counts["errors"]) == (0, 1)


def test_client_reused_refresh_token_raises_not_signed_in(idp_reset: IdP, sync_client: Any) -> None:
    """A thief used the session's refresh token first: the session's own refresh is reuse,
    the IdP revokes the family, and the client says the session ended and why."""
    idp = idp_reset
    client = sync_client()
    session_id = uuid.uuid4().hex
    idp.set_access_token_ttl(2)
    client_sign_in(client, idp, session_id)
    tokens = client_record(client, session_id).tokens
    assert tokens.refresh_token and tokens.expires_at
    stolen = refresh_at_idp(idp, tokens.refresh_token)
    assert stolen.status_code == 200
    sleep_until(tokens.expires_at)

    with pytest.raises(NotSignedIn) as raised:
        client.get_access_token(session_id)
    assert raised.value.reason == "refresh_rejected"
    assert "refresh_rejected" in str(raised.value)
    assert idp.counts()["refresh_reuse"] == 1
    # Reuse revoked the thief's tokens too.
    assert introspect(idp, stolen.json()["refresh_token"])["active"] is False
    assert client.is_signed_in(session_id) is False
    with pytest.raises(NotSignedIn):
        client.get_user(session_id)


async def test_async_client_revoked_grant_raises_not_signed_in(idp_reset: IdP) -> None:
    idp = idp_reset
    async with async_client(idp) as client:
        session_id = uuid.uuid4().hex
        idp.set_access_token_ttl(2)
        await aclient_sign_in(client, idp, session_id)
        tokens = client_record(client, session_id).tokens
        assert tokens.refresh_token and tokens.expires_at
        revoke_at_idp(idp, tokens.refresh_token)
        await asleep_until(tokens.expires_at)

        with pytest.raises(NotSignedIn) as raised:
            await client.get_access_token(session_id)
        assert raised.value.reason == "refresh_rejected"
        assert await client.is_signed_in(session_id) is False
        assert refresh_counts(idp) == (1, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_idp_down_during_refresh(idp_reset: IdP, start_app: Any, kind: str) -> None:
    """TTL 3 s, leeway 2 s: inside the leeway the old token keeps serving while the
    token endpoint answers 503, and the failing IdP is asked once per retry interval, not
    once per request; once expired, 503 + Retry-After; the session survives and refreshes
    as soon as the IdP is back and the retry interval has passed."""
    idp = idp_reset
    app = start_app(kind, THUNDERID_REFRESH_LEEWAY="2", THUNDERID_REFRESH_RETRY_INTERVAL="1")
    idp.set_access_token_ttl(3)
    app.sign_in(idp)
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    record = stored_record(app.store_path, app.cookie)
    old, expires_at = record.tokens.access_token, record.tokens.expires_at
    assert expires_at is not None
    idp.fail("token", 503, times=-1)

    sleep_until(expires_at - 2)  # inside the leeway, still valid
    for _ in range(3):
        assert app.token() == old
    # It tried once; the next requests within the retry interval did not ask again.
    assert idp.token_counts("refresh_token") == {"calls": 1, "ok": 0, "errors": 1}

    sleep_until(expires_at)
    _assert_503_retry_after(app.get("/api/token"), "could not be renewed")
    browser = app.get("/private", api=False)
    assert browser.status_code == 503 and "Retry-After" in browser.headers
    assert "text/html" in browser.headers["content-type"]

    idp.reset()  # the IdP is back
    time.sleep(1.1)  # the retry interval of the last failed attempt passes
    new = app.token()
    assert new != old
    assert refresh_counts(idp) == (1, 0)
    assert app.get("/public", api=False).text == "public signed_in=True ended=None"
    assert userinfo_status(idp, new) == 200
