"""A session lives no longer than the shortest of its idle limit, its absolute limit and
its refresh token's own expiry; activity slides the idle limit without a store write on
every request; when a session ends the context says why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.idp import IdP, start_idp
from tests.support.waits import sleep_until
from tests.tokens.harness import App, stored_record, stored_row


@pytest.fixture(scope="module")
def short_refresh_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    """A separate IdP whose refresh tokens live 3 s (kept across rotations)."""
    server = start_idp(tmp_path_factory.mktemp("idp_rt3"), env={"REFRESH_TOKEN_TTL": "3"})
    try:
        yield server
    finally:
        server.stop()


def _version(app: App) -> int:
    row = stored_row(app.store_path, app.cookie)
    assert row is not None
    return row[0]


def _ping_until_signed_out(app: App, timeout: float, interval: float) -> list[httpx.Response]:
    """Request /api/whoami every ``interval`` s until one is refused (bounded)."""
    answers = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = app.get("/api/whoami")
        answers.append(response)
        if response.status_code != 200:
            return answers
        time.sleep(interval)
    pytest.fail(f"the session was still alive after {timeout} s of activity")


def test_activity_slides_idle_limit_then_idleness_ends_it(start_app: Any, idp_reset: IdP) -> None:
    app = start_app("asgi", THUNDERID_IDLE_TIMEOUT="2", THUNDERID_TOUCH_INTERVAL="0.5")
    app.sign_in(idp_reset)
    signed_in = stored_record(app.store_path, app.cookie).last_seen
    first_version = _version(app)

    # Active for well past the idle limit: every request is served.
    while time.time() < signed_in + 3:
        response = app.get("/api/whoami")
        assert response.status_code == 200, response.text
        time.sleep(0.4)
    assert _version(app) > first_version, "activity was never recorded"

    # Idle beyond the limit: the session ends, and says why.
    sleep_until(stored_record(app.store_path, app.cookie).last_seen + 2)
    assert app.get("/public", api=False).text == "public signed_in=False ended=expired"
    refused = app.get("/api/whoami")
    assert refused.status_code == 401
    assert "expired" in refused.headers["WWW-Authenticate"]


def test_no_store_write_on_every_request(start_app: Any, idp_reset: IdP) -> None:
    app = start_app("wsgi", THUNDERID_IDLE_TIMEOUT="60", THUNDERID_TOUCH_INTERVAL="1.5")
    app.sign_in(idp_reset)
    version = _version(app)
    for path in ("/api/whoami", "/api/token", "/private", "/public", "/api/whoami"):
        assert app.get(path).status_code == 200
    assert _version(app) == version, "a request within TOUCH_INTERVAL wrote to the store"

    sleep_until(stored_record(app.store_path, app.cookie).last_seen + 1.5)
    assert app.get("/api/whoami").status_code == 200
    touched = _version(app)
    assert touched > version, "no touch after TOUCH_INTERVAL"
    assert app.get("/api/whoami").status_code == 200
    assert app.get("/api/token").status_code == 200
    assert _version(app) == touched


def test_absolute_limit_ends_an_active_session(start_app: Any, idp_reset: IdP) -> None:
    app = start_app("wsgi", THUNDERID_ABSOLUTE_TIMEOUT="2", THUNDERID_TOUCH_INTERVAL="0.5")
    app.sign_in(idp_reset)
    limit = stored_record(app.store_path, app.cookie).absolute_expires_at

    answers = _ping_until_signed_out(app, timeout=8, interval=0.3)

    assert answers[0].status_code == 200
    assert answers[-1].status_code == 401
    assert time.time() >= limit  # it did not end early
    assert "expired" in answers[-1].headers["WWW-Authenticate"]
    assert app.get("/public", api=False).text == "public signed_in=False ended=expired"


def test_refresh_token_expiry_ends_an_active_session(
    start_app: Any, short_refresh_idp: IdP
) -> None:
    """Access tokens of 1 s, refresh token of 3 s: activity refreshes the access token,
    but the session cannot outlive the refresh token's first expiry."""
    idp = short_refresh_idp
    idp.reset()
    idp.set_access_token_ttl(1)
    app = start_app("asgi", idp=idp, THUNDERID_REFRESH_LEEWAY="0")
    app.sign_in(idp)

    answers = _ping_until_signed_out(app, timeout=10, interval=0.25)

    counts = idp.token_counts("refresh_token")
    assert counts["ok"] >= 1, "activity never refreshed the access token"
    assert answers[-1].status_code == 401
    # The expiry was learnt at sign-in (introspection of the first refresh token; rotations
    # keep it), so the session ends as expired at that moment, without a doomed refresh.
    record = stored_record(app.store_path, app.cookie)
    assert record.ended is not None and record.ended.value == "expired"
    assert app.get("/public", api=False).text == "public signed_in=False ended=expired"
    assert counts["errors"] == 0, "no refresh was attempted with the lapsed refresh token"
    assert idp.counts()["refresh_reuse"] == 0
