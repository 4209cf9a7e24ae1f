"""A worker killed (SIGKILL) while it holds a session's refresh lease.

A single-process uvicorn (THUNDERID_LOCK_LEASE=3) takes the lease and sends the refresh; the
test IdP holds that request. The process is killed, so the IdP drops the request unprocessed
(the refresh token is not consumed) and nobody ever releases the lease. A request of the same
session on the other server (gunicorn of ``pair``) waits while the dead holder's lease is
live, takes over when it lapses, and refreshes: one refresh grant in all, no reuse, the
session survives.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import httpx
import redis

from tests.redis.harness import (
    ASGI_APP,
    SHORT_TTL,
    UVICORN_ARGS,
    Pair,
    get,
    poll,
    redis_lease_key,
    refresh_counts,
    sign_in_many,
    stored_record,
    token_at,
)
from tests.support.idp import IdP, introspect, userinfo_status
from tests.support.servers import Server, app_env, free_port
from tests.support.waits import sleep_until

LEASE = 3  # seconds
HOLD_MS = 6000  # the IdP holds the refresh longer than the lease (the holder dies first)


def test_takeover_after_the_holder_is_killed(
    pair: Pair, idp_reset: IdP, raw_redis: redis.Redis, serve: Callable[..., Server]
) -> None:
    port = free_port()
    env = app_env(
        idp_reset,
        port,
        pair.store_url,
        THUNDERID_REFRESH_LEEWAY="0",
        THUNDERID_LOCK_LEASE=str(LEASE),
        THUNDERID_HTTP_TIMEOUT=str(LEASE - 0.5),  # a lease must outlast the HTTP timeout
    )
    doomed = serve("uvicorn", ASGI_APP, env, workers=1, port=port, extra_args=UVICORN_ARGS)
    assert doomed.worker_pids() == [], "uvicorn must run as one process for this test"

    idp_reset.set_access_token_ttl(SHORT_TTL)
    (cookie,) = sign_in_many(idp_reset, [(pair.wsgi.url, "alice")])
    idp_reset.set_access_token_ttl(idp_reset.default_access_token_ttl)
    before = stored_record(raw_redis, pair.prefix, cookie).tokens
    assert before.expires_at is not None
    assert token_at(doomed.url, cookie) == before.access_token  # the doomed one knows it

    idp_reset.hold_refresh(HOLD_MS)
    sleep_until(before.expires_at)
    outcome: list[Any] = []

    def doomed_request() -> None:
        try:
            outcome.append(get(doomed.url, cookie, "/api/token"))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=doomed_request)
    thread.start()
    # The doomed process holds the lease and its refresh has reached the IdP.
    poll(lambda: idp_reset.token_counts("refresh_token")["calls"] == 1, timeout=10)
    lease = redis_lease_key(pair.prefix, cookie)
    assert raw_redis.get(lease), "the refresh lease is not in Redis"

    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(timeout=10)
    thread.join(timeout=30)
    assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome
    idp_reset.hold_refresh(0)  # later refreshes are answered at once
    # The dead holder's lease is still there: the next request must wait it out.
    ttl_ms = raw_redis.pttl(lease)
    assert 0 < ttl_ms <= LEASE * 1000, f"the lease must be live and expiring (PTTL {ttl_ms})"

    response = get(pair.wsgi.url, cookie, "/api/token")
    assert response.status_code == 200, response.text
    new = response.json()["access_token"]
    assert new != before.access_token

    # The IdP dropped the held request unprocessed once its hold ended.
    poll(lambda: idp_reset.counts()["refresh_dropped"] == 1, timeout=HOLD_MS / 1000 + 10)
    assert refresh_counts(idp_reset) == (1, 0), idp_reset.counts()
    assert idp_reset.token_counts("refresh_token") == {"calls": 2, "ok": 1, "errors": 0}

    # The session survives, everywhere, with the newest refresh token of its family.
    assert token_at(pair.wsgi.url, cookie) == token_at(pair.asgi.url, cookie) == new
    after = stored_record(raw_redis, pair.prefix, cookie).tokens
    assert after.access_token == new and after.refresh_token != before.refresh_token
    assert after.refresh_token is not None
    assert introspect(idp_reset, after.refresh_token)["active"] is True
    assert userinfo_status(idp_reset, new) == 200
    assert raw_redis.get(lease) is None, "the taker did not release the lease"
    assert refresh_counts(idp_reset) == (1, 0)
