"""Every kind of answer a provider gives to a refresh, sent by the real test IdP to a session
whose access token has expired, and what the session does with it (docs/resilience.md):

* about the grant (``invalid_grant``, or a bare 400 as some providers send for a revoked
  refresh token): the session ends as rejected;
* about the client (``invalid_client``, ``unauthorized_client``): a configuration error,
  logged as one; the session is kept, so fixing the configuration saves it;
* transient (5xx, 429, ``temporarily_unavailable``): 503-style ``RefreshUnavailable``, the
  session is kept and the next refresh, once the provider is back, succeeds.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from tests.support.idp import IdP
from tests.support.waits import sleep_until
from tests.tokens.harness import client_record, client_sign_in
from thunderid_mw import EndReason, NotSignedIn, RefreshUnavailable
from thunderid_mw.core import events

GRANT_REJECTED = [(400, "invalid_grant"), (400, "")]
CLIENT_REFUSED = [(401, "invalid_client"), (400, "unauthorized_client")]
TRANSIENT = [
    (503, "temporarily_unavailable"),
    (500, "server_error"),
    (429, ""),
    (400, "temporarily_unavailable"),
]


def expired_session(idp: IdP, sync_client: Any) -> tuple[Any, str]:
    client = sync_client(refresh_retry_interval=0)  # retry at once, not after 5 s
    session_id = uuid.uuid4().hex
    idp.set_access_token_ttl(1)
    client_sign_in(client, idp, session_id)
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    expires_at = client_record(client, session_id).tokens.expires_at
    assert expires_at is not None
    sleep_until(expires_at)
    return client, session_id


def events_logged(caplog: pytest.LogCaptureFixture) -> dict[str, logging.LogRecord]:
    return {getattr(r, "event", ""): r for r in caplog.records if r.name == events.LOGGER_NAME}


@pytest.mark.parametrize(("status", "error"), GRANT_REJECTED)
def test_an_answer_about_the_grant_ends_the_session(
    idp_reset: IdP, sync_client: Any, caplog: pytest.LogCaptureFixture, status: int, error: str
) -> None:
    client, session_id = expired_session(idp_reset, sync_client)
    idp_reset.fail("token", status=status, error=error)
    with (
        caplog.at_level(logging.INFO, logger=events.LOGGER_NAME),
        pytest.raises(NotSignedIn) as raised,
    ):
        client.get_access_token(session_id)
    assert events_logged(caplog)[events.REFRESH_REJECTED].levelno == logging.INFO
    assert raised.value.reason == EndReason.REFRESH_REJECTED
    assert client_record(client, session_id).ended is EndReason.REFRESH_REJECTED
    assert idp_reset.token_counts("refresh_token")["calls"] == 1  # ended: never tried again
    with pytest.raises(NotSignedIn):
        client.get_access_token(session_id)
    assert idp_reset.token_counts("refresh_token")["calls"] == 1


@pytest.mark.parametrize(("status", "error"), CLIENT_REFUSED)
def test_an_answer_about_the_client_keeps_the_session_and_logs_a_config_error(
    idp_reset: IdP, sync_client: Any, caplog: pytest.LogCaptureFixture, status: int, error: str
) -> None:
    client, session_id = expired_session(idp_reset, sync_client)
    idp_reset.fail("token", status=status, error=error)
    with (
        caplog.at_level(logging.WARNING, logger=events.LOGGER_NAME),
        pytest.raises(RefreshUnavailable),
    ):
        client.get_access_token(session_id)
    record = events_logged(caplog)[events.REFRESH_CONFIG_ERROR]
    assert record.levelno == logging.ERROR
    assert error in record.getMessage() and idp_reset.conf_client_id in record.getMessage()
    assert client_record(client, session_id).ended is None
    # The configuration is fixed (the injected answer is gone): the same session refreshes.
    assert client.get_access_token(session_id)
    assert idp_reset.token_counts("refresh_token")["ok"] == 1


@pytest.mark.parametrize(("status", "error"), TRANSIENT)
def test_a_transient_answer_keeps_the_session_for_a_retry(
    idp_reset: IdP, sync_client: Any, caplog: pytest.LogCaptureFixture, status: int, error: str
) -> None:
    client, session_id = expired_session(idp_reset, sync_client)
    old = client_record(client, session_id).tokens.access_token
    idp_reset.fail("token", status=status, error=error)
    with (
        caplog.at_level(logging.WARNING, logger=events.LOGGER_NAME),
        pytest.raises(RefreshUnavailable) as raised,
    ):
        client.get_access_token(session_id)
    assert raised.value.retry_after > 0
    assert events.REFRESH_CONFIG_ERROR not in events_logged(caplog)
    assert client_record(client, session_id).ended is None
    fresh = client.get_access_token(session_id)
    assert fresh and fresh != old
    counts = idp_reset.token_counts("refresh_token")
    assert (counts["ok"], counts["errors"]) == (1, 1)
