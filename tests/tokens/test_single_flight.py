"""Single-flight refresh: N concurrent requests of one session at the moment its access
token expires cause exactly ONE refresh-token grant at the IdP (which rotates refresh
tokens and revokes the whole family on reuse), and every request gets the new token.

Variants: threads of one gunicorn process, asyncio tasks of one uvicorn process, several
gunicorn worker processes sharing the SQLite store, and the in-process clients (24 threads
sharing a ThunderIDClient, 24 tasks sharing an AsyncThunderIDClient).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.idp import IdP, introspect, userinfo_status
from tests.support.waits import asleep_until, sleep_until
from tests.tokens.harness import (
    App,
    aclient_sign_in,
    async_client,
    client_record,
    client_sign_in,
    fire_tasks,
    fire_threads,
    refresh_counts,
    stored_record,
)
from thunderid_mw import ThunderIDClient
from thunderid_mw.stores import MemoryStore, SQLiteStore

N = 24
SHORT_TTL = 2


def _signed_in_at_short_ttl(idp: IdP, app: App) -> tuple[str, float]:
    """Sign in with a 2 s access token; later tokens get the default lifetime so the
    refreshed one stays valid for the rest of the test. Returns (token, expires_at)."""
    idp.set_access_token_ttl(SHORT_TTL)
    app.sign_in(idp)
    idp.set_access_token_ttl(idp.default_access_token_ttl)
    token, expires_at = app.token(), app.expires_at()
    assert refresh_counts(idp) == (0, 0)
    return token, expires_at


def _assert_one_refresh_for_all(idp: IdP, responses: list[httpx.Response], old: str) -> str:
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * len(responses), [r.text[:200] for r in responses]
    tokens: set[str] = {r.json()["access_token"] for r in responses}
    assert len(tokens) == 1, f"{len(tokens)} different access tokens were handed out"
    (new,) = tokens
    assert new != old, "the expired token was handed out"
    assert refresh_counts(idp) == (1, 0), idp.counts()
    return new


def _assert_session_still_works(idp: IdP, app: App, new: str) -> None:
    assert app.token() == new
    assert userinfo_status(idp, new) == 200  # the token family was not revoked
    # The stored refresh token is the newest of its family (not a consumed one).
    refresh_token = stored_record(app.store_path, app.cookie).tokens.refresh_token
    assert refresh_token is not None
    assert introspect(idp, refresh_token)["active"] is True
    assert refresh_counts(idp) == (1, 0)


def test_threads_of_one_wsgi_process(idp_reset: IdP, start_app: Any) -> None:
    app = start_app("wsgi", threads=32, THUNDERID_REFRESH_LEEWAY="0")
    old, expires_at = _signed_in_at_short_ttl(idp_reset, app)

    responses = fire_threads(app, "/api/token", N, before=lambda: sleep_until(expires_at))

    new = _assert_one_refresh_for_all(idp_reset, responses, old)
    assert len({r.json()["pid"] for r in responses}) == 1
    _assert_session_still_works(idp_reset, app, new)


async def test_tasks_of_one_asgi_process(idp_reset: IdP, start_app: Any) -> None:
    app = start_app("asgi", THUNDERID_REFRESH_LEEWAY="0")
    old, expires_at = _signed_in_at_short_ttl(idp_reset, app)

    responses = await fire_tasks(app, "/api/token", N, expires_at=expires_at)

    new = _assert_one_refresh_for_all(idp_reset, responses, old)
    assert len({r.json()["pid"] for r in responses}) == 1
    _assert_session_still_works(idp_reset, app, new)


def test_worker_processes_sharing_sqlite(idp_reset: IdP, start_app: Any) -> None:
    app = start_app("wsgi", workers=4, THUNDERID_REFRESH_LEEWAY="0")
    old, expires_at = _signed_in_at_short_ttl(idp_reset, app)

    responses = fire_threads(app, "/api/token", N, before=lambda: sleep_until(expires_at))

    new = _assert_one_refresh_for_all(idp_reset, responses, old)
    pids = {r.json()["pid"] for r in responses}
    assert len(pids) > 1, f"only worker {pids} served the burst: not a multi-process test"
    _assert_session_still_works(idp_reset, app, new)


# -- in-process clients ------------------------------------------------------------------


def _store(kind: str, tmp_path: Path) -> Any:
    return MemoryStore() if kind == "memory" else SQLiteStore(str(tmp_path / "s.sqlite3"))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_sync_client_shared_by_threads(
    idp_reset: IdP, sync_client: Any, tmp_path: Path, store: str
) -> None:
    client: ThunderIDClient = sync_client(store=_store(store, tmp_path))
    session_id = uuid.uuid4().hex
    idp_reset.set_access_token_ttl(SHORT_TTL)
    client_sign_in(client, idp_reset, session_id)
    idp_reset.set_access_token_ttl(idp_reset.default_access_token_ttl)
    old = client.get_access_token(session_id)
    expires_at = client_record(client, session_id).tokens.expires_at
    assert expires_at is not None
    sleep_until(expires_at)

    barrier = threading.Barrier(N, timeout=10)
    results: list[Any] = [None] * N

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = client.get_access_token(session_id)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)

    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == 1 and results[0] != old
    assert refresh_counts(idp_reset) == (1, 0)
    assert client.get_access_token(session_id) == results[0]
    assert userinfo_status(idp_reset, results[0]) == 200


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_async_client_shared_by_tasks(idp_reset: IdP, tmp_path: Path, store: str) -> None:
    async with async_client(idp_reset, store=_store(store, tmp_path)) as client:
        session_id = uuid.uuid4().hex
        idp_reset.set_access_token_ttl(SHORT_TTL)
        await aclient_sign_in(client, idp_reset, session_id)
        idp_reset.set_access_token_ttl(idp_reset.default_access_token_ttl)
        old = await client.get_access_token(session_id)
        expires_at = client_record(client, session_id).tokens.expires_at
        assert expires_at is not None
        await asleep_until(expires_at)

        results = await asyncio.gather(
            *(client.get_access_token(session_id) for _ in range(N)), return_exceptions=True
        )

        assert all(isinstance(r, str) for r in results), results
        assert len(set(results)) == 1 and results[0] != old
        assert refresh_counts(idp_reset) == (1, 0)
        assert await client.get_access_token(session_id) == results[0]
        assert userinfo_status(idp_reset, str(results[0])) == 200
