"""The client API of the Node SDK, sync and async: one script runs against both
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


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_node_sdk_parity(idp_reset: IdP, kind: str) -> None:
    idp = idp_reset
    async with any_client(kind, idp) as client:
        endpoints = await call(client, "get_openid_provider_endpoints")
        for name in (
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "userinfo_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "end_session_endpoint",
        ):
            assert endpoints[name] == idp.metadata[name], name

        session_id = uuid.uuid4().hex
        assert await call(client, "is_signed_in", session_id) is False
        for method in ("get_access_token", "get_id_token", "get_user", "get_decoded_id_token"):
            with pytest.raises(NotSignedIn):
                await call(client, method, session_id)

        url = await call(client, "get_sign_in_url", session_id)
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(idp.metadata["authorization_endpoint"] + "?")
        assert query["client_id"] == [idp.conf_client_id]
        assert query["code_challenge_method"] == ["S256"]
        await sign_in(client, idp, session_id)

        assert await call(client, "is_signed_in", session_id) is True
        token = await call(client, "get_access_token", session_id)
        assert userinfo_status(idp, token) == 200
        id_token = await call(client, "get_id_token", session_id)
        assert id_token.count(".") == 2
        decoded = await call(client, "get_decoded_id_token", session_id)
        assert decoded["sub"] == "user-alice"
        assert decoded["aud"] == idp.conf_client_id
        assert decoded["iss"] == idp.issuer
        user = await call(client, "get_user", session_id)
        assert user["sub"] == "user-alice"
        assert user.get("name")

        new = await call(client, "refresh_access_token", session_id)
        assert new != token
        assert refresh_counts(idp) == (1, 0)
        assert await call(client, "get_access_token", session_id) == new
        assert userinfo_status(idp, new) == 200

        await call(client, "revoke_access_token", session_id)
        assert await call(client, "is_signed_in", session_id) is False
        assert idp.counts()["revocations"] >= 1
        assert introspect(idp, new)["active"] is False
        with pytest.raises(NotSignedIn) as raised:
            await call(client, "get_access_token", session_id)
        assert raised.value.reason == "revoked"

        other = uuid.uuid4().hex
        await sign_in(client, idp, other, "bob")
        assert (await call(client, "get_user", other))["sub"] == "user-bob"
        bob_id_token = await call(client, "get_id_token", other)
        end_session = await call(client, "sign_out", other)
        assert end_session.startswith(idp.metadata["end_session_endpoint"] + "?")
        params = parse_qs(urlsplit(end_session).query)
        assert params["id_token_hint"] == [bob_id_token]
        assert params["post_logout_redirect_uri"] == [client.config.post_sign_out_url]
        assert await call(client, "is_signed_in", other) is False
        with pytest.raises(NotSignedIn) as raised:
            await call(client, "get_access_token", other)
        assert raised.value.reason == "signed_out"


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
