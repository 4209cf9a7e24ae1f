"""``ThunderIDAuth`` calling a protected API (introspection-checked): it attaches the
session's token, refreshes once on a 401 and retries once, and 20 parallel calls at
expiry share one refresh."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.protected_api import ProtectedAPI
from tests.support.waits import asleep_until
from tests.tokens.harness import (
    aclient_sign_in,
    async_client,
    client_config,
    client_record,
    client_sign_in,
    refresh_counts,
)
from thunderid_mw import AsyncThunderIDClient, NotSignedIn, ThunderIDAuth, ThunderIDClient


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def test_sync_auth_attaches_and_refreshes_once_on_401(
    idp_reset: IdP, sync_client: Any, protected_api: ProtectedAPI
) -> None:
    idp, api = idp_reset, protected_api
    client: ThunderIDClient = sync_client()
    session_id = uuid.uuid4().hex
    client_sign_in(client, idp, session_id)
    token = client.get_access_token(session_id)

    with httpx.Client(base_url=api.url, auth=ThunderIDAuth(client, session_id)) as http:
        me = http.get("/users/me")
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == "user-alice"
        assert api.counts()["tokens"] == [sha(token)]
        assert refresh_counts(idp) == (0, 0)

        api.reject_next(1)
        again = http.get("/users/me")

    assert again.status_code == 200, again.text
    assert refresh_counts(idp) == (1, 0)
    new = client.get_access_token(session_id)
    assert new != token
    counts = api.counts()
    assert counts["calls"]["/users/me"] == 3  # 1, then the rejected call and its retry
    assert counts["rejected"] == 1
    assert counts["tokens"] == [sha(token), sha(token), sha(new)]


async def test_async_auth_attaches_and_refreshes_once_on_401(
    idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    idp, api = idp_reset, protected_api
    async with async_client(idp) as client:
        session_id = uuid.uuid4().hex
        await aclient_sign_in(client, idp, session_id)
        token = await client.get_access_token(session_id)
        async with httpx.AsyncClient(
            base_url=api.url, auth=ThunderIDAuth(client, session_id)
        ) as http:
            assert (await http.get("/organizations")).json()["sub"] == "user-alice"
            api.reject_next(1)
            again = await http.get("/organizations")
            assert again.status_code == 200, again.text
            new = await client.get_access_token(session_id)

    assert new != token
    assert refresh_counts(idp) == (1, 0)
    counts = api.counts()
    assert counts["calls"]["/organizations"] == 3
    assert counts["tokens"] == [sha(token), sha(token), sha(new)]


async def test_a_second_401_is_returned_not_retried(
    idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    idp, api = idp_reset, protected_api
    async with async_client(idp) as client:
        session_id = uuid.uuid4().hex
        await aclient_sign_in(client, idp, session_id)
        async with httpx.AsyncClient(
            base_url=api.url, auth=ThunderIDAuth(client, session_id)
        ) as http:
            api.reject_next(5)
            response = await http.get("/users/me")
    assert response.status_code == 401
    assert api.counts()["calls"]["/users/me"] == 2  # one retry only
    assert refresh_counts(idp) == (1, 0)


@pytest.mark.parametrize("kind", ["async", "sync-client-in-async"])
async def test_gather_at_expiry_shares_one_refresh(
    idp_reset: IdP, protected_api: ProtectedAPI, kind: str
) -> None:
    """20 calls in ``asyncio.gather`` just after the token expired: one refresh, and every
    call reaches the API with the same new token."""
    idp, api = idp_reset, protected_api
    idp.set_access_token_ttl(2)
    session_id = uuid.uuid4().hex
    context = async_client(idp) if kind == "async" else _sync_in_async(idp)
    async with context as client:
        if isinstance(client, AsyncThunderIDClient):
            await aclient_sign_in(client, idp, session_id)
        else:
            await asyncio.to_thread(client_sign_in, client, idp, session_id)
        idp.set_access_token_ttl(idp.default_access_token_ttl)
        tokens = client_record(client, session_id).tokens
        assert tokens.expires_at is not None
        await asleep_until(tokens.expires_at)

        async with httpx.AsyncClient(
            base_url=api.url, auth=ThunderIDAuth(client, session_id), timeout=30
        ) as http:
            responses = await asyncio.gather(*(http.get("/users/me") for _ in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    assert refresh_counts(idp) == (1, 0)
    received = api.counts()["tokens"]
    assert len(received) == 20
    assert len(set(received)) == 1 and received[0] != sha(tokens.access_token)


class _sync_in_async:
    """A blocking ThunderIDClient used from async code (ThunderIDAuth runs it in threads)."""

    def __init__(self, idp: IdP):
        self.client = ThunderIDClient(client_config(idp))

    async def __aenter__(self) -> ThunderIDClient:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        self.client.close()


async def test_sync_code_in_a_worker_thread_uses_the_async_client(
    idp_reset: IdP, protected_api: ProtectedAPI
) -> None:
    """A sync view under an ASGI server (Django, ``run_in_threadpool``) holds the
    middleware's async client: ``actions(ctx).auth()`` with ``httpx.Client`` runs each
    token call on the client's event loop, including the refresh after a 401."""
    idp, api = idp_reset, protected_api
    async with async_client(idp) as client:
        session_id = uuid.uuid4().hex
        await aclient_sign_in(client, idp, session_id)
        ctx = await client.context_for_session(session_id)
        token = ctx.require_access_token()

        def sync_view() -> list[int]:
            with httpx.Client(base_url=api.url, auth=client.actions(ctx).auth()) as http:
                first = http.get("/users/me").status_code
                api.reject_next(1)
                return [first, http.get("/users/me").status_code]

        assert await asyncio.to_thread(sync_view) == [200, 200]
        new = await client.get_access_token(session_id)
        source = client.actions(ctx).token_source()
        assert await asyncio.to_thread(source.access_token_for, session_id) == new
        with pytest.raises(RuntimeError, match="its own event loop"):
            source.access_token_for(session_id)  # on the loop's thread it would deadlock

    assert new != token
    assert refresh_counts(idp) == (1, 0)
    assert api.counts()["tokens"] == [sha(token), sha(token), sha(new)]


def test_a_blocking_source_needs_a_client_that_has_run_on_a_loop(idp_reset: IdP) -> None:
    client = AsyncThunderIDClient(client_config(idp_reset))
    with pytest.raises(RuntimeError, match="has not run on an event loop"):
        client.blocking_token_source()


def test_signed_out_actions_refuse_what_needs_a_session(sync_client: Any) -> None:
    client: ThunderIDClient = sync_client()
    actions = client.actions(client.signed_out)
    for act in (actions.auth, actions.revoke_access_token, actions.sign_out, actions.access_token):
        with pytest.raises(NotSignedIn):
            act()
    assert "signed out" in repr(actions)
