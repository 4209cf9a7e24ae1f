"""Token exchange against the IdP's ThunderID profile: its answer carries only an access
token, and a bad subject token is invalid_request (sync and async clients)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.idp import IdP, userinfo_status
from tests.tokens.harness import (
    aclient_sign_in,
    async_client,
    client_config,
    client_record,
    client_sign_in,
)
from thunderid_mw import (
    ThunderIDClient,
    TokenEndpointError,
    TokenExchangeConfig,
    token_exchange_params,
)

# ThunderID reads any Authorization header as client credentials: the token goes in the form.
RETURNS_SESSION = TokenExchangeConfig(
    id="downstream-session",
    data=token_exchange_params("{{accessToken}}"),
    attach_token=False,
    returns_session=True,
    return_response=True,
)
BAD_SUBJECT = TokenExchangeConfig(
    id="bad-subject", data=token_exchange_params("not-a-real-token"), attach_token=False
)


@pytest.fixture
def client(thunderid: IdP) -> Iterator[ThunderIDClient]:
    made = ThunderIDClient(client_config(thunderid))
    yield made
    made.close()


def test_access_token_only_answer_keeps_the_sessions_id_token_and_claims(
    thunderid: IdP, client: ThunderIDClient
) -> None:
    session_id = uuid.uuid4().hex
    client_sign_in(client, thunderid, session_id)
    before = client_record(client, session_id)

    body = client.exchange_token(RETURNS_SESSION, session_id)

    assert body is not None and "id_token" not in body and "refresh_token" not in body
    after = client_record(client, session_id)
    assert after.tokens.access_token == body["access_token"] != before.tokens.access_token
    assert after.tokens.id_token == before.tokens.id_token
    assert after.tokens.refresh_token == before.tokens.refresh_token
    assert after.claims == before.claims and "auth_time" in after.claims
    assert userinfo_status(thunderid, client.get_access_token(session_id)) == 200


def test_bad_subject_token_is_a_clear_token_endpoint_error(
    thunderid: IdP, client: ThunderIDClient
) -> None:
    session_id = uuid.uuid4().hex
    client_sign_in(client, thunderid, session_id)
    before = client.get_access_token(session_id)

    with pytest.raises(TokenEndpointError) as raised:
        client.exchange_token(BAD_SUBJECT, session_id)

    assert (raised.value.error, raised.value.status) == ("invalid_request", 400)
    assert raised.value.error_description
    assert "invalid_request" in str(raised.value)
    assert client.get_access_token(session_id) == before


async def test_async_client_exchange_against_thunderid(thunderid: IdP) -> None:
    async with async_client(thunderid) as client:
        session_id = uuid.uuid4().hex
        await aclient_sign_in(client, thunderid, session_id)
        claims = await client.get_user(session_id)

        body = await client.exchange_token(RETURNS_SESSION, session_id)

        assert (
            body is not None and await client.get_access_token(session_id) == body["access_token"]
        )
        assert await client.get_user(session_id) == claims
        with pytest.raises(TokenEndpointError) as raised:
            await client.exchange_token(BAD_SUBJECT, session_id)
        assert raised.value.error == "invalid_request"
