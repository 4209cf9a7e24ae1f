"""A token endpoint slower than ``http_timeout`` (it still processes the refresh and
rotates the token after the client would have given up): the refresh is waited for under
a lease that is kept alive, so no sibling ever presents the old refresh token again, and
no request is handed an expired token. gunicorn (2 workers x threads) and uvicorn, sharing
one SQLite store; the IdP counts refresh grants and reuse detections.

Settings, scaled down from production: http_timeout 1 s, a lease of 2 s renewed while
waiting, token endpoint 4 s late, refresh_timeout 15 s, requests wait up to 10 s."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.idp import IdP
from tests.tokens.conftest import fire_threads, refresh_counts, sleep_until, userinfo_status

SLOW = {
    "THUNDERID_HTTP_TIMEOUT": "1",
    "THUNDERID_LOCK_LEASE": "2",
    "THUNDERID_REFRESH_TIMEOUT": "15",
    "THUNDERID_REFRESH_WAIT_TIMEOUT": "10",
    "THUNDERID_REFRESH_LEEWAY": "0",
}
DELAY_MS = 4000
N = 16


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_slow_token_endpoint_never_sees_a_refresh_token_twice(
    idp_reset: IdP, start_app: Any, kind: str
) -> None:
    app = start_app(kind, workers=2, **SLOW)
    idp_reset.set_access_token_ttl(2)
    app.sign_in(idp_reset)
    idp_reset.set_access_token_ttl(idp_reset.default_access_token_ttl)
    old = app.token()
    expires_at = app.expires_at()
    idp_reset.delay("token", DELAY_MS)

    responses = fire_threads(app, "/api/whoami", N, before=lambda: sleep_until(expires_at))
    answered_at = time.time()
    idp_reset.delay("token", 0)

    assert refresh_counts(idp_reset) == (1, 0), idp_reset.counts()  # one grant, no reuse
    for response in responses:
        assert response.status_code in (200, 503), response.text
        if response.status_code == 200:
            body = response.json()
            assert body["signed_in"] is True
            # Never an expired token: whatever was served expires after it was served.
            assert body["expires_at"] > answered_at - 1, body
    assert any(r.status_code == 200 for r in responses)
    new = app.token()
    assert new != old
    assert userinfo_status(idp_reset, new) == 200  # the token family was not revoked
    assert refresh_counts(idp_reset) == (1, 0)
