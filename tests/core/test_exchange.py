"""Token exchange: the Node SDK's exchangeToken and RFC 8693."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any
from urllib.parse import unquote_plus

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.config import TokenExchangeConfig
from thunderid_mw.core.env import FlowEnv, Loaded
from thunderid_mw.core.errors import (
    NotSignedIn,
    ProviderError,
    RefreshUnavailable,
    TokenEndpointError,
)
from thunderid_mw.core.exchange import (
    ACCESS_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    exchange_token,
    render_data,
    token_exchange_params,
)
from thunderid_mw.core.refresh import refresh_lock_name
from thunderid_mw.core.session import EndReason
from thunderid_mw.core.tokens import TokenSet

from .driver import (
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_URL,
    Lease,
    World,
    json_result,
    make_config,
    make_env,
    make_record,
    mint_id_token,
    token_json,
)

SID = "x" * 43
VALUES = {
    "accessToken": "AT",
    "clientId": "CID",
    "clientSecret": "CS",
    "scopes": "openid profile",
    "username": "alice",
}


def start(world: World, env: FlowEnv, **record: Any) -> tuple[str, Loaded]:
    key = env.keys.store_key_for("s", SID)
    claims = {"sub": "user-1", "username": "alice"}
    return key, world.put_session(env, key, make_record(world.now, claims=claims, **record))


def respond_with(world: World, result: fx.HttpResult | fx.HttpFailure) -> None:
    world.http[TOKEN_URL] = lambda call: result


def config(**kw: Any) -> TokenExchangeConfig:
    values: dict[str, Any] = {"id": "x", "data": {"grant_type": "custom"}}
    values.update(kw)
    return TokenExchangeConfig(**values)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{accessToken}}", "AT"),
        ("{{clientId}}", "CID"),
        ("{{clientSecret}}", "CS"),
        ("{{scopes}}", "openid profile"),
        ("{{username}}", "alice"),
        ("Bearer {{accessToken}} for {{username}}", "Bearer AT for alice"),
        ("{{accessToken}}{{accessToken}}", "ATAT"),
        ("{{unknown}}", "{{unknown}}"),
        ("{accessToken}", "{accessToken}"),
        ("plain", "plain"),
    ],
)
def test_render_data(template: str, expected: str) -> None:
    assert render_data({"f": template}, VALUES) == {"f": expected}


def test_render_data_missing_value_is_empty() -> None:
    assert render_data({"f": "[{{username}}]"}, {}) == {"f": "[]"}


def test_body_form_fields_and_client_auth(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    respond_with(world, json_result(200, {"access_token": "other", "token_type": "Bearer"}))
    data = {
        "grant_type": "account_switch",
        "token": "{{accessToken}}",
        "scope": "{{scopes}}",
        "client_id": "{{clientId}}",
        "user": "{{username}}",
        "odd": "a&b=c d",
    }
    body = world.run(exchange_token(env, config(data=data), key, loaded))
    assert body == {"access_token": "other", "token_type": "Bearer"}
    (call,) = world.calls
    assert call.url == TOKEN_URL
    assert call.form == {
        "grant_type": "account_switch",
        "token": "at-1",
        "scope": "openid profile",
        "client_id": CLIENT_ID,
        "user": "alice",
        "odd": "a&b=c d",  # raw here; the HTTP layer form-encodes the mapping
    }
    user, _, password = base64.b64decode(call.headers["Authorization"][6:]).decode().partition(":")
    assert (unquote_plus(user), unquote_plus(password)) == (CLIENT_ID, CLIENT_SECRET)
    assert world.of_type(fx.Save) == []  # the session was not touched


def test_attach_token_sends_bearer_and_moves_credentials_to_the_body(
    world: World, env: FlowEnv
) -> None:
    key, loaded = start(world, env)
    respond_with(world, json_result(200, {"access_token": "other"}))
    world.run(exchange_token(env, config(attach_token=True), key, loaded))
    (call,) = world.calls
    assert call.headers["Authorization"] == "Bearer at-1"
    assert call.form is not None
    assert call.form["client_id"] == CLIENT_ID
    assert call.form["client_secret"] == CLIENT_SECRET


def test_custom_token_endpoint(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    world.http["https://other.test/token"] = lambda call: json_result(200, {"access_token": "o"})
    cfg = config(token_endpoint="https://other.test/token")
    world.run(exchange_token(env, cfg, key, loaded))
    assert [c.url for c in world.calls] == ["https://other.test/token"]


def test_return_response_false_returns_none(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    respond_with(world, json_result(200, {"access_token": "o"}))
    assert world.run(exchange_token(env, config(return_response=False), key, loaded)) is None


def test_sign_in_required_without_session(world: World, env: FlowEnv) -> None:
    with pytest.raises(NotSignedIn):
        world.run(exchange_token(env, config(), None, None))
    key, loaded = start(world, env)
    tomb = Loaded(loaded.record.tombstone(EndReason.SIGNED_OUT), loaded.version)
    with pytest.raises(NotSignedIn):
        world.run(exchange_token(env, config(), key, tomb))
    assert world.calls == []


def test_no_sign_in_required_runs_without_session(world: World, env: FlowEnv) -> None:
    respond_with(world, json_result(200, {"access_token": "anon"}))
    data = {"grant_type": "client_credentials", "who": "[{{username}}][{{accessToken}}]"}
    cfg = config(sign_in_required=False, data=data)
    assert world.run(exchange_token(env, cfg, None, None)) == {"access_token": "anon"}
    (call,) = world.calls
    assert call.form is not None
    assert call.form["who"] == "[][]"
    with pytest.raises(NotSignedIn):  # but a token cannot be attached without one
        world.run(
            exchange_token(env, config(sign_in_required=False, attach_token=True), None, None)
        )


@pytest.mark.parametrize("status", [400, 401, 403])
def test_token_endpoint_error(world: World, env: FlowEnv, status: int) -> None:
    key, loaded = start(world, env)
    doc = {"error": "invalid_target", "error_description": "audience not allowed"}
    respond_with(world, json_result(status, doc))
    with pytest.raises(TokenEndpointError) as info:
        world.run(exchange_token(env, config(), key, loaded))
    assert info.value.error == "invalid_target"
    assert info.value.error_description == "audience not allowed"
    assert info.value.status == status


@pytest.mark.parametrize(
    "answer", [fx.HttpFailure("refused"), fx.HttpResult(502, b""), fx.HttpResult(200, b"<html>")]
)
def test_unreachable_or_unusable_is_provider_error(
    world: World, env: FlowEnv, answer: fx.HttpResult | fx.HttpFailure
) -> None:
    key, loaded = start(world, env)
    respond_with(world, answer)
    with pytest.raises(ProviderError):
        world.run(exchange_token(env, config(), key, loaded))


def test_returns_session_replaces_tokens_under_the_refresh_lease(
    world: World, env: FlowEnv
) -> None:
    key, loaded = start(world, env)
    id_token = mint_id_token(now=world.now, nonce=None, sub="user-2", name="Switched")
    respond_with(
        world, json_result(200, token_json("at-x", refresh_token="rt-x", id_token=id_token))
    )
    world.now += 3
    world.run(exchange_token(env, config(returns_session=True), key, loaded))
    stored = world.read_session(env, key)
    assert stored is not None
    tokens = stored.record.tokens
    assert (tokens.access_token, tokens.refresh_token, tokens.id_token) == (
        "at-x",
        "rt-x",
        id_token,
    )
    assert tokens.expires_at == world.now + 3600
    assert stored.record.claims["name"] == "Switched"
    name = refresh_lock_name(key)
    kinds = [
        type(e)
        for e in world.effects
        if isinstance(e, fx.AcquireLock | fx.HttpCall | fx.Save | fx.ReleaseLock)
    ]
    assert kinds == [fx.AcquireLock, fx.HttpCall, fx.Save, fx.ReleaseLock]
    assert world.of_type(fx.AcquireLock)[0].name == name
    assert world.live_leases() == {}


def test_returns_session_uses_the_stored_tokens_not_the_callers(world: World, env: FlowEnv) -> None:
    key, stale = start(world, env)
    tokens = TokenSet(access_token="at-newer", refresh_token="rt-newer")
    newer = world.put_session(env, key, stale.record.with_tokens(tokens))
    assert newer.version != stale.version
    respond_with(world, json_result(200, token_json("at-x")))
    world.run(exchange_token(env, config(returns_session=True, attach_token=True), key, stale))
    (call,) = world.calls
    assert call.headers["Authorization"] == "Bearer at-newer"
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.tokens.access_token == "at-x"


def test_returns_session_waits_for_a_refresh_in_progress(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    respond_with(world, json_result(200, token_json("at-x")))
    world.leases[refresh_lock_name(key)] = Lease("refresher", world.now + 10_000)
    with pytest.raises(RefreshUnavailable):
        world.run(exchange_token(env, config(returns_session=True), key, loaded))
    assert world.calls == []


def test_returns_session_releases_the_lease_on_error(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    respond_with(world, json_result(400, {"error": "invalid_grant"}))
    with pytest.raises(TokenEndpointError):
        world.run(exchange_token(env, config(returns_session=True), key, loaded))
    assert world.live_leases() == {}
    assert len(world.released) == 1
    stored = world.read_session(env, key)
    assert stored == loaded  # unchanged


def test_public_client_exchange_sends_client_id() -> None:
    env = make_env(make_config(client_secret=None))
    world = World()
    respond_with(world, json_result(200, {"access_token": "o"}))
    world.run(exchange_token(env, config(sign_in_required=False), None, None))
    (call,) = world.calls
    assert "Authorization" not in call.headers
    assert call.form == {"grant_type": "custom", "client_id": CLIENT_ID}


def test_token_exchange_params_rfc8693() -> None:
    assert token_exchange_params("subj") == {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": "subj",
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    assert TOKEN_EXCHANGE_GRANT == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert ACCESS_TOKEN_TYPE == "urn:ietf:params:oauth:token-type:access_token"
    full = token_exchange_params(
        "subj",
        subject_token_type="urn:ietf:params:oauth:token-type:id_token",
        audience="https://api.test",
        resource="https://api.test/r",
        scope="read write",
        requested_token_type="urn:ietf:params:oauth:token-type:jwt",
        actor_token="act",
        actor_token_type=ACCESS_TOKEN_TYPE,
    )
    assert full == {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": "subj",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "audience": "https://api.test",
        "resource": "https://api.test/r",
        "scope": "read write",
        "requested_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "actor_token": "act",
        "actor_token_type": ACCESS_TOKEN_TYPE,
    }


def test_invalid_client_with_attach_token_says_why(world: World, env: FlowEnv) -> None:
    """ThunderID parses any Authorization header on its token endpoint as Basic: the
    exchange made with attach_token fails client authentication, and the error says so."""
    key, loaded = start(world, env)
    respond_with(world, json_result(401, {"error": "invalid_client"}))
    with pytest.raises(TokenEndpointError) as info:
        world.run(exchange_token(env, config(attach_token=True), key, loaded))
    assert info.value.error == "invalid_client" and info.value.status == 401
    assert "attach_token=False" in str(info.value) and "in Authorization" in str(info.value)


def test_invalid_client_without_attach_token_is_plain(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    respond_with(world, json_result(401, {"error": "invalid_client"}))
    with pytest.raises(TokenEndpointError) as info:
        world.run(exchange_token(env, config(), key, loaded))
    assert str(info.value) == "invalid_client"


# -- a DPoP-bound session (RFC 9449) ---------------------------------------------------

DPOP_KEY = '{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "d"}'  # never parsed here


def start_bound(world: World, env: FlowEnv, token_type: str = "DPoP") -> tuple[str, Loaded]:
    key = env.keys.store_key_for("s", SID)
    record = make_record(world.now, claims={"sub": "user-1"})
    tokens = replace(record.tokens, token_type=token_type, dpop_key=DPOP_KEY)
    return key, world.put_session(env, key, replace(record, tokens=tokens))


def test_an_exchange_from_a_dpop_session_proves_its_key(world: World, env: FlowEnv) -> None:
    """As on a refresh, the exchange carries a proof of the session's key, so the answer
    can be bound to it; the access token stays in the form, not in Authorization."""
    key, loaded = start_bound(world, env)
    respond_with(world, json_result(200, {"access_token": "other", "token_type": "DPoP"}))
    world.run(exchange_token(env, config(data={"t": "{{accessToken}}"}), key, loaded))
    (call,) = world.calls
    assert call.dpop_key == DPOP_KEY and call.dpop_access_token is None
    assert call.headers["Authorization"].startswith("Basic ")
    assert call.form is not None and call.form["t"] == "at-1"


def test_attach_token_presents_a_dpop_bound_token_as_dpop(world: World, env: FlowEnv) -> None:
    key, loaded = start_bound(world, env)
    respond_with(world, json_result(200, {"access_token": "other", "token_type": "DPoP"}))
    world.run(exchange_token(env, config(attach_token=True), key, loaded))
    (call,) = world.calls
    assert call.headers["Authorization"] == "DPoP at-1"
    assert (call.dpop_key, call.dpop_access_token) == (DPOP_KEY, "at-1")  # the proof's ath


def test_attach_token_presents_a_bearer_answer_to_a_dpop_session_as_bearer(
    world: World, env: FlowEnv
) -> None:
    """A provider may answer a DPoP request with a Bearer token (RFC 9449 5): the key is
    kept for proofs, the token is presented as what it is."""
    key, loaded = start_bound(world, env, token_type="Bearer")
    respond_with(world, json_result(200, {"access_token": "other"}))
    world.run(exchange_token(env, config(attach_token=True), key, loaded))
    (call,) = world.calls
    assert call.headers["Authorization"] == "Bearer at-1"
    assert (call.dpop_key, call.dpop_access_token) == (DPOP_KEY, None)


def test_returns_session_keeps_a_dpop_answer_bound(world: World, env: FlowEnv) -> None:
    key, loaded = start_bound(world, env)
    respond_with(world, json_result(200, token_json("at-x", token_type="DPoP")))
    world.run(exchange_token(env, config(returns_session=True), key, loaded))
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.tokens.access_token == "at-x"
    assert stored.record.tokens.is_dpop_bound and stored.record.tokens.dpop_key == DPOP_KEY


def test_returns_session_refuses_a_token_type_it_cannot_use(world: World, env: FlowEnv) -> None:
    """Without DPoP a DPoP-bound (or any non-Bearer) answer is refused, as at sign-in and
    refresh, and the session keeps its tokens."""
    key, loaded = start(world, env)
    respond_with(world, json_result(200, token_json("at-x", token_type="DPoP")))
    with pytest.raises(ProviderError, match="only Bearer tokens"):
        world.run(exchange_token(env, config(returns_session=True), key, loaded))
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.tokens.access_token == "at-1"
    assert world.live_leases() == {}
