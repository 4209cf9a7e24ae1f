"""Refresh storm across hosts: the refresh lock is a lease in Redis.

Both servers of ``pair`` (gunicorn with 4 workers, uvicorn with 2) share one Redis. The test
IdP rotates refresh tokens and revokes the whole family when a used one comes back, and
counts every refresh grant. At the moment a session's access token expires:

* 200 concurrent requests of ONE session, spread over both servers → all 200 succeed with
  the same new token, and the IdP saw exactly one refresh grant and no reuse;
* 50 sessions, 4 concurrent requests (2 per server) → exactly 50 refresh grants, no reuse.
"""

from __future__ import annotations

from collections import defaultdict

import httpx
import redis

from tests.redis.harness import (
    SHORT_TTL,
    Pair,
    refresh_counts,
    sign_in_many,
    stored_record,
    storm,
    token_at,
)
from tests.support.idp import IdP, introspect, userinfo_status

REQUESTS = 200
SESSIONS = 50
PER_SESSION = 4


def _pids_by_server(
    pair: Pair, plan: list[tuple[str, str]], responses: list[httpx.Response]
) -> dict[str, set[int]]:
    pids: dict[str, set[int]] = defaultdict(set)
    for (url, _), response in zip(plan, responses, strict=True):
        pids[url].add(response.json()["pid"])
    return pids


async def test_200_requests_of_one_session_refresh_once(
    pair: Pair, idp_reset: IdP, raw_redis: redis.Redis
) -> None:
    idp_reset.set_access_token_ttl(SHORT_TTL)
    (cookie,) = sign_in_many(idp_reset, [(pair.wsgi.url, "alice")])
    idp_reset.set_access_token_ttl(idp_reset.default_access_token_ttl)  # for the new token
    before = stored_record(raw_redis, pair.prefix, cookie).tokens
    assert before.expires_at is not None
    assert refresh_counts(idp_reset) == (0, 0)

    plan = [(pair.urls[i % 2], cookie) for i in range(REQUESTS)]
    responses = await storm(plan, at=before.expires_at)

    statuses = [r.status_code for r in responses]
    assert statuses == [200] * REQUESTS, {r.status_code: r.text[:300] for r in responses}
    tokens = {r.json()["access_token"] for r in responses}
    assert len(tokens) == 1, f"{len(tokens)} different access tokens were handed out"
    (new,) = tokens
    assert new != before.access_token, "the expired token was handed out"
    assert refresh_counts(idp_reset) == (1, 0), idp_reset.counts()
    pids = _pids_by_server(pair, plan, responses)
    assert len(pids[pair.wsgi.url] | pids[pair.asgi.url]) >= 3, (
        f"only processes {dict(pids)} served the storm: not a multi-process test"
    )

    # The session lives on, with the newest refresh token of its family.
    after = stored_record(raw_redis, pair.prefix, cookie).tokens
    assert after.access_token == new
    assert after.refresh_token and after.refresh_token != before.refresh_token
    assert introspect(idp_reset, after.refresh_token)["active"] is True
    assert userinfo_status(idp_reset, new) == 200
    assert token_at(pair.wsgi.url, cookie) == token_at(pair.asgi.url, cookie) == new
    assert refresh_counts(idp_reset) == (1, 0)
    assert not raw_redis.keys(pair.prefix + "l:*"), "a refresh lease was left behind"


async def test_50_sessions_at_once_refresh_once_each(
    pair: Pair, idp_reset: IdP, raw_redis: redis.Redis
) -> None:
    idp_reset.set_access_token_ttl(SHORT_TTL)
    targets = [(pair.urls[i % 2], ("alice", "bob")[i // 2 % 2]) for i in range(SESSIONS)]
    cookies = sign_in_many(idp_reset, targets)
    idp_reset.set_access_token_ttl(idp_reset.default_access_token_ttl)
    assert len(set(cookies)) == SESSIONS
    old = {c: stored_record(raw_redis, pair.prefix, c).tokens for c in cookies}
    latest_expiry = max(t.expires_at or 0.0 for t in old.values())
    assert refresh_counts(idp_reset) == (0, 0)

    # Each session: 2 requests to gunicorn, 2 to uvicorn; sessions interleaved.
    plan = [(pair.urls[j % 2], c) for j in range(PER_SESSION) for c in cookies]
    responses = await storm(plan, at=latest_expiry)

    statuses = [r.status_code for r in responses]
    assert statuses == [200] * len(plan), {r.status_code: r.text[:300] for r in responses}
    by_session: dict[str, set[str]] = defaultdict(set)
    for (_, cookie), response in zip(plan, responses, strict=True):
        by_session[cookie].add(response.json()["access_token"])
    assert all(len(tokens) == 1 for tokens in by_session.values()), "a session got two tokens"
    new = {c: next(iter(tokens)) for c, tokens in by_session.items()}
    assert all(new[c] != old[c].access_token for c in cookies), "an expired token was handed out"
    assert len(set(new.values())) == SESSIONS
    assert refresh_counts(idp_reset) == (SESSIONS, 0), idp_reset.counts()

    for c in cookies:
        assert stored_record(raw_redis, pair.prefix, c).tokens.access_token == new[c]
    assert not raw_redis.keys(pair.prefix + "l:*"), "a refresh lease was left behind"
