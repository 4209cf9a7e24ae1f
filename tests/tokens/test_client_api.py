"""The client API of the Node SDK, sync and async: each test runs against both
``ThunderIDClient`` and ``AsyncThunderIDClient`` (same method names, awaited or not)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP, introspect, userinfo_status
from tests.tokens.harness import (
    aclient_sign_in,
    async_client,
    client_config,
    client_sign_in,
    refresh_counts,
)
from thunderid_mw import AsyncThunderIDClient, NotSignedIn, SignInError, ThunderIDClient


async def call(client: Any, name: str, *args: Any) -> Any:
    """``client.name(*args)``, awaited when the client is the async one."""
    result = getattr(client, name)(*args)
    return await result if inspect.isawaitable(result) else result


@asynccontextmanager
async def any_client(kind: str, idp: IdP) -> AsyncIterator[Any]:
    if kind == "async":
        async with async_client(idp) as aclient:
            yield aclient
    else:
        client = ThunderIDClient(client_config(idp))
        try:
            yield client
        finally:
            client.close()


async def sign_in(client: Any, idp: IdP, session_id: str, username: str = "alice") -> None:
    if isinstance(client, AsyncThunderIDClient):
        await aclient_sign_in(client, idp, session_id, username)
    else:
        client_sign_in(client, idp, session_id, username)


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])
ENDPOINTS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
)


@KINDS
async def test_provider_endpoints_are_the_discovered_ones(idp: IdP, kind: str) -> None:
    async with any_client(kind, idp) as client:
        endpoints = await call(client, "get_openid_provider_endpoints")
    assert {name: endpoints[name] for name in ENDPOINTS} == {
        name: idp.metadata[name] for name in ENDPOINTS
    }


@KINDS
@pytest.mark.parametrize(
    "method", ["get_access_token", "get_id_token", "get_user", "get_decoded_id_token"]
)
async def test_a_session_nobody_signed_in_to_answers_not_signed_in(
    idp: IdP, kind: str, method: str
) -> None:
    async with any_client(kind, idp) as client:
        session_id = uuid.uuid4().hex
        assert await call(client, "is_signed_in", session_id) is False
        with pytest.raises(NotSignedIn):
            await call(client, method, session_id)


@KINDS
async def test_the_sign_in_url_is_a_pkce_authorization_request(idp: IdP, kind: str) -> None:
    async with any_client(kind, idp) as client:
        url = await call(client, "get_sign_in_url", uuid.uuid4().hex)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(idp.metadata["authorization_endpoint"] + "?")
    assert query["client_id"] == [idp.conf_client_id]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0]


@KINDS
async def test_a_signed_in_session_answers_its_tokens_and_user(idp: IdP, kind: str) -> None:
    async with any_client(kind, idp) as client:
        session_id = uuid.uuid4().hex
        await sign_in(client, idp, session_id)
        assert await call(client, "is_signed_in", session_id) is True
        token = await call(client, "get_access_token", session_id)
        id_token = await call(client, "get_id_token", session_id)
        decoded = await call(client, "get_decoded_id_token", session_id)
        user = await call(client, "get_user", session_id)
    assert userinfo_status(idp, token) == 200
    assert id_token.count(".") == 2
    assert (decoded["sub"], decoded["aud"], decoded["iss"]) == (
        "user-alice",
        idp.conf_client_id,
        idp.issuer,
    )
    assert (user["sub"], user["name"]) == ("user-alice", "Alice Liddell")


@KINDS
async def test_refresh_access_token_rotates_once(idp_reset: IdP, kind: str) -> None:
    idp = idp_reset
    async with any_client(kind, idp) as client:
        session_id = uuid.uuid4().hex
        await sign_in(client, idp, session_id)
        token = await call(client, "get_access_token", session_id)
        new = await call(client, "refresh_access_token", session_id)
        assert new != token
        assert await call(client, "get_access_token", session_id) == new
    assert refresh_counts(idp) == (1, 0)
    assert userinfo_status(idp, new) == 200


@KINDS
async def test_revoke_access_token_ends_the_session(idp_reset: IdP, kind: str) -> None:
    idp = idp_reset
    async with any_client(kind, idp) as client:
        session_id = uuid.uuid4().hex
        await sign_in(client, idp, session_id)
        token = await call(client, "get_access_token", session_id)
        await call(client, "revoke_access_token", session_id)
        assert await call(client, "is_signed_in", session_id) is False
        with pytest.raises(NotSignedIn) as raised:
            await call(client, "get_access_token", session_id)
    assert raised.value.reason == "revoked"
    assert idp.counts()["revocations"] >= 1
    assert introspect(idp, token)["active"] is False


@KINDS
async def test_sign_out_ends_the_session_and_returns_the_end_session_url(
    idp: IdP, kind: str
) -> None:
    async with any_client(kind, idp) as client:
        session_id = uuid.uuid4().hex
        await sign_in(client, idp, session_id, "bob")
        assert (await call(client, "get_user", session_id))["sub"] == "user-bob"
        id_token = await call(client, "get_id_token", session_id)
        end_session = await call(client, "sign_out", session_id)
        assert await call(client, "is_signed_in", session_id) is False
        with pytest.raises(NotSignedIn) as raised:
            await call(client, "get_access_token", session_id)
        post_sign_out_url = client.config.post_sign_out_url
    assert raised.value.reason == "signed_out"
    assert end_session.startswith(idp.metadata["end_session_endpoint"] + "?")
    params = parse_qs(urlsplit(end_session).query)
    assert params["id_token_hint"] == [id_token]
    assert params["post_logout_redirect_uri"] == [post_sign_out_url]


def test_get_sign_in_url_stores_nothing_and_binds_the_state_to_the_session(idp: IdP) -> None:
    """Anonymous pages may each call ``get_sign_in_url``: no store row is written. The
    state carries the sealed sign-in, which only the session id it was made for opens."""
    from tests.tokens.harness import _callback_params
    from thunderid_mw.stores import MemoryStore

    store = MemoryStore()
    client = ThunderIDClient(client_config(idp, store=store))
    try:
        urls = [client.get_sign_in_url(f"anonymous-{n}") for n in range(200)]
        assert len(store) == 0
        assert len({parse_qs(urlsplit(u).query)["state"][0] for u in urls}) == 200
        victim, attacker = "victim-session", "attacker-session"
        with httpx.Client(timeout=10) as browser:
            params = _callback_params(idp.login(browser, client.get_sign_in_url(victim), "bob"))
        with pytest.raises(SignInError) as wrong_session:
            client.sign_in(attacker, params["code"], params["state"], iss=params.get("iss"))
        assert wrong_session.value.code == "unknown_state"
        tampered = params["state"][:-2] + ("AA" if params["state"][-2:] != "AA" else "BB")
        with pytest.raises(SignInError):
            client.sign_in(victim, params["code"], tampered, iss=params.get("iss"))
        ctx = client.sign_in(victim, params["code"], params["state"], iss=params.get("iss"))
        assert ctx.user["sub"] == "user-bob"
    finally:
        client.close()
