"""Token exchange as the Node SDK's ``exchangeToken`` does it (placeholders, attach_token,
returns_session, sign_in_required) plus RFC 8693, against the IdP's real grants."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.idp import IdP, introspect
from tests.support.protected_api import ProtectedAPI
from tests.tokens.harness import aclient_sign_in, async_client, client_sign_in, refresh_counts
from thunderid_mw import (
    NotSignedIn,
    ThunderIDClient,
    TokenEndpointError,
    TokenExchangeConfig,
    token_exchange_params,
)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

# The Node guide's account switch, with the SDK's placeholders.
ACCOUNT_SWITCH = TokenExchangeConfig(
    id="account-switch",
    data={
        "client_id": "{{clientId}}",
        "grant_type": "account_switch",
        "scope": "{{scopes}}",
        "token": "{{accessToken}}",
        "username": "bob",
    },
    attach_token=False,
    returns_session=True,
    return_response=True,
    sign_in_required=True,
)


def _signed_in(sync_client: Any, idp: IdP, **changes: Any) -> tuple[ThunderIDClient, str]:
    client: ThunderIDClient = sync_client(**changes)
    session_id = uuid.uuid4().hex
    client_sign_in(client, idp, session_id)
    return client, session_id


def test_rfc8693_typed_helper(idp_reset: IdP, sync_client: Any) -> None:
    idp = idp_reset
    client, session_id = _signed_in(sync_client, idp)
    before = client.get_access_token(session_id)
    config = TokenExchangeConfig(
        id="downstream",
        data=token_exchange_params("{{accessToken}}", audience="https://api.example.test"),
        returns_session=False,
    )

    body = client.exchange_token(config, session_id)

    assert body is not None
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["access_token"] != before
    info = introspect(idp, body["access_token"])
    assert info["active"] is True
    assert info["sub"] == "user-alice"
    assert info["aud"] == "https://api.example.test"
    assert idp.token_counts(TOKEN_EXCHANGE) == {"calls": 1, "ok": 1, "errors": 0}
    assert client.get_access_token(session_id) == before  # the session is untouched


def test_rfc8693_with_raw_placeholders(idp_reset: IdP, sync_client: Any) -> None:
    idp = idp_reset
    client, session_id = _signed_in(sync_client, idp)
    config = TokenExchangeConfig(
        id="raw",
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": "{{accessToken}}",
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "scope": "{{scopes}}",
        },
    )

    body = client.exchange_token(config, session_id)

    assert body is not None
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["scope"] == "openid profile"  # {{scopes}} = the configured scopes
    assert idp.token_counts(TOKEN_EXCHANGE)["ok"] == 1

    config_no_response = TokenExchangeConfig(id="raw", data=config.data, return_response=False)
    assert client.exchange_token(config_no_response, session_id) is None
    assert idp.token_counts(TOKEN_EXCHANGE)["ok"] == 2


def test_account_switch_replaces_the_session(idp_reset: IdP, sync_client: Any) -> None:
    idp = idp_reset
    client, session_id = _signed_in(sync_client, idp)
    before = client.get_access_token(session_id)
    assert client.get_user(session_id)["sub"] == "user-alice"

    body = client.exchange_token(ACCOUNT_SWITCH, session_id)

    assert body is not None and body["access_token"]
    assert idp.token_counts("account_switch") == {"calls": 1, "ok": 1, "errors": 0}
    ctx = client.context_for_session(session_id)
    assert ctx.is_signed_in
    assert ctx.user["sub"] == "user-bob"
    assert client.get_decoded_id_token(session_id)["sub"] == "user-bob"
    after = client.get_access_token(session_id)
    assert after == body["access_token"] != before
    assert introspect(idp, after)["sub"] == "user-bob"
    # The session holds the new refresh token too: refreshing it works, with no reuse.
    refreshed = client.refresh_access_token(session_id)
    assert refreshed != after
    assert introspect(idp, refreshed)["sub"] == "user-bob"
    assert refresh_counts(idp) == (1, 0)


async def test_account_switch_async(idp_reset: IdP) -> None:
    idp = idp_reset
    async with async_client(idp) as client:
        session_id = uuid.uuid4().hex
        await aclient_sign_in(client, idp, session_id)

        await client.exchange_token(ACCOUNT_SWITCH, session_id)

        assert (await client.get_user(session_id))["sub"] == "user-bob"
        assert introspect(idp, await client.get_access_token(session_id))["sub"] == "user-bob"
        assert idp.token_counts("account_switch")["ok"] == 1


def test_token_endpoint_error_carries_error_and_description(
    idp_reset: IdP, sync_client: Any
) -> None:
    idp = idp_reset
    client, session_id = _signed_in(sync_client, idp)
    before = client.get_access_token(session_id)
    bad = TokenExchangeConfig(id="bad", data=token_exchange_params("not-a-real-token"))

    with pytest.raises(TokenEndpointError) as raised:
        client.exchange_token(bad, session_id)

    assert raised.value.error == "invalid_grant"
    assert raised.value.error_description
    assert idp.token_counts(TOKEN_EXCHANGE)["errors"] == 1
    # The same failure with returns_session leaves the session as it was.
    bad_switch = TokenExchangeConfig(
        id="bad-switch",
        data={**ACCOUNT_SWITCH.data, "token": "not-a-real-token"},
        returns_session=True,
    )
    with pytest.raises(TokenEndpointError) as raised:
        client.exchange_token(bad_switch, session_id)
    assert raised.value.error == "invalid_grant"
    assert client.get_access_token(session_id) == before
    assert client.get_user(session_id)["sub"] == "user-alice"


def test_sign_in_required_refuses_without_a_session(idp_reset: IdP, sync_client: Any) -> None:
    idp = idp_reset
    client: ThunderIDClient = sync_client()
    config = TokenExchangeConfig(id="x", data=token_exchange_params("{{accessToken}}"))
    with pytest.raises(NotSignedIn):
        client.exchange_token(config)
    with pytest.raises(NotSignedIn):
        client.exchange_token(config, uuid.uuid4().hex)  # a session id nobody signed in
    with pytest.raises(NotSignedIn):
        client.exchange_token(ACCOUNT_SWITCH, uuid.uuid4().hex)
    assert idp.counts()["token"] == {}  # nothing was sent


def test_attach_token_sends_bearer(idp_reset: IdP, sync_client: Any) -> None:
    """attach_token=True: the access token goes in ``Authorization: Bearer`` (client
    credentials in the body, as basic auth cannot share the header). Checked at a real
    Bearer-protected endpoint, the IdP's userinfo, given as ``token_endpoint``: the IdP's
    own token endpoint (oidc-provider) refuses any non-Basic Authorization header."""
    idp = idp_reset
    client, session_id = _signed_in(
        sync_client,
        idp,
        client_id=idp.conf_post_client_id,
        client_secret=idp.conf_post_client_secret,
        token_endpoint_auth_method="client_secret_post",
    )
    with_bearer = TokenExchangeConfig(
        id="userinfo",
        data={"client_id": "{{clientId}}", "client_secret": "{{clientSecret}}"},
        attach_token=True,
        token_endpoint=idp.metadata["userinfo_endpoint"],
    )
    body = client.exchange_token(with_bearer, session_id)
    assert body is not None and body["sub"] == "user-alice"

    without_bearer = TokenExchangeConfig(
        id="userinfo", data={}, attach_token=False, token_endpoint=with_bearer.token_endpoint
    )
    assert raised_error_is_invalid_token(client, without_bearer, session_id)


def raised_error_is_invalid_token(
    client: ThunderIDClient, config: TokenExchangeConfig, session_id: str
) -> bool:
    with pytest.raises(TokenEndpointError) as raised:
        client.exchange_token(config, session_id)
    return raised.value.error == "invalid_token" and raised.value.status == 401


def test_an_exchange_from_a_dpop_session_is_bound_to_its_key(
    idp_reset: IdP, sync_client: Any, protected_api: ProtectedAPI
) -> None:
    """With DPoP on, the exchange proves the session's key like a refresh does: the token
    that replaces the session's is bound to the same key, and API calls with ctx.auth()
    carry proofs for it (the token alone is refused)."""
    idp = idp_reset
    client, session_id = _signed_in(sync_client, idp, dpop=True)
    before = client.context_for_session(session_id)
    jkt = introspect(idp, before.require_access_token())["cnf"]["jkt"]
    config = TokenExchangeConfig(
        id="rebind", data=token_exchange_params("{{accessToken}}"), returns_session=True
    )

    body = client.exchange_token(config, session_id)

    assert body is not None and body["token_type"] == "DPoP"
    after = client.context_for_session(session_id)
    assert after.access_token == body["access_token"] != before.access_token
    assert introspect(idp, body["access_token"])["cnf"] == {"jkt": jkt}
    assert after.user == before.user  # an answer with only an access token keeps the claims
    auth = client.actions(after).auth()
    called = httpx.get(f"{protected_api.url}/users/me", auth=auth, timeout=10)
    assert called.status_code == 200, called.text
    alone = httpx.get(
        f"{protected_api.url}/users/me",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert alone.status_code == 401
