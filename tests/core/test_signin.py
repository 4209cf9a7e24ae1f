"""Sign-in: the authorization request, the callback checks, and the code exchange."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.crypto import Keys
from thunderid_mw.core.discovery import ProviderMetadata
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.errors import ProviderError, SignInError, StoreContention
from thunderid_mw.core.pkce import code_challenge
from thunderid_mw.core.signin import (
    SIGN_IN_ENTROPY,
    CallbackParams,
    SignInTransaction,
    authorization_request,
    authorization_url,
    check_callback,
    complete_sign_in,
)

from .driver import (
    AUTHORIZE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    DROP,
    ISSUER,
    REVOKE_URL,
    SECRET,
    T0,
    TOKEN_URL,
    World,
    json_result,
    make_config,
    make_env,
    make_metadata,
    mint_id_token,
    token_json,
)

ENTROPY = bytes(range(SIGN_IN_ENTROPY))


def start_sign_in(
    config: ThunderIDConfig, metadata: ProviderMetadata | None, **request: Any
) -> tuple[str, SignInTransaction]:
    """The authorization URL (not pushed) and the transaction, as ``/sign-in`` makes them."""
    assert metadata is not None
    params, tx = authorization_request(config, **request)
    return authorization_url(metadata.authorization_endpoint, params), tx


def begin(env: FlowEnv, world: World, return_to: str = "/next") -> SignInTransaction:
    _, tx = start_sign_in(
        env.config,
        env.metadata,
        return_to=return_to,
        entropy=world.random_bytes(SIGN_IN_ENTROPY),
        now=world.now,
    )
    return tx


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# The authorization request ---------------------------------------------------------------


def test_authorize_url_parameters() -> None:
    env = make_env()
    url, tx = start_sign_in(env.config, env.metadata, return_to="/p", entropy=ENTROPY, now=T0)
    assert url.startswith(AUTHORIZE_URL + "?")
    q = query_of(url)
    assert all(len(v) == 1 for v in q.values())
    assert q["response_type"] == ["code"]
    assert q["client_id"] == [CLIENT_ID]
    assert q["redirect_uri"] == ["https://app.test/callback"]
    assert q["scope"] == ["openid profile"]
    assert q["state"] == [tx.state]
    assert q["nonce"] == [tx.nonce]
    assert q["code_challenge"] == [code_challenge(tx.code_verifier)]
    assert q["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in q
    assert len({tx.state, tx.nonce, tx.code_verifier}) == 3
    assert tx.return_to == "/p"
    assert tx.created_at == T0


def test_authorize_url_keeps_endpoint_query() -> None:
    env = make_env(metadata=make_metadata(authorization_endpoint=AUTHORIZE_URL + "?tenant=a"))
    url, _ = start_sign_in(env.config, env.metadata, return_to="/", entropy=ENTROPY, now=T0)
    assert query_of(url)["tenant"] == ["a"]
    assert url.count("?") == 1


def test_extra_params_cannot_override_security_params() -> None:
    hostile = {
        "state": "attacker",
        "nonce": "attacker",
        "code_challenge": "attacker",
        "code_challenge_method": "plain",
        "redirect_uri": "https://evil.example/cb",
        "client_id": "other",
        "response_type": "token",
        "scope": "email",
    }
    env = make_env(make_config(extra_authorize_params={**hostile, "prompt": "login"}))
    url, tx = start_sign_in(
        env.config,
        env.metadata,
        return_to="/",
        entropy=ENTROPY,
        now=T0,
        extra_params={**hostile, "ui_locales": "fr"},
    )
    q = query_of(url)
    assert q["prompt"] == ["login"]
    assert q["ui_locales"] == ["fr"]
    assert q["state"] == [tx.state]
    assert q["nonce"] == [tx.nonce]
    assert q["code_challenge_method"] == ["S256"]
    assert q["redirect_uri"] == ["https://app.test/callback"]
    assert q["client_id"] == [CLIENT_ID]
    assert q["response_type"] == ["code"]
    assert q["scope"] == ["openid profile"]


def test_start_sign_in_needs_exact_entropy() -> None:
    env = make_env()
    with pytest.raises(ValueError, match="random bytes"):
        start_sign_in(env.config, env.metadata, return_to="/", entropy=b"x" * 95, now=T0)


# The transaction ---------------------------------------------------------------------------


def test_transaction_seal_unseal() -> None:
    keys = Keys.from_secret(SECRET)
    tx = SignInTransaction("st" * 20, "no" * 20, "v" * 43, "/back", T0)
    sealed = tx.seal(keys, b"\x02" * 12)
    assert "/back" not in sealed
    assert SignInTransaction.unseal(keys, sealed) == tx
    assert tx.cookie_suffix == tx.state[:16]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1],
        lambda s: s[:10],
        lambda s: "",
        lambda s: "!!not-base64!!",
        lambda s: s + "AAAA",
    ],
)
def test_tampered_transaction_is_none(mutate: Callable[[str], str]) -> None:
    keys = Keys.from_secret(SECRET)
    sealed = SignInTransaction("s" * 43, "n" * 43, "v" * 43, "/", T0).seal(keys, b"\x02" * 12)
    assert SignInTransaction.unseal(keys, mutate(sealed)) is None


def test_transaction_from_another_secret_is_none() -> None:
    sealed = SignInTransaction("s" * 43, "n" * 43, "v" * 43, "/", T0).seal(
        Keys.from_secret("t" * 40), b"\x02" * 12
    )
    assert SignInTransaction.unseal(Keys.from_secret(SECRET), sealed) is None


# The callback checks -----------------------------------------------------------------------

TX = SignInTransaction("state-1", "nonce-1", "v" * 43, "/", T0)


def params(**values: str | None) -> CallbackParams:
    base: dict[str, str | None] = {
        "state": "state-1",
        "code": "code-1",
        "iss": ISSUER,
        "error": None,
        "error_description": None,
        "session_state": None,
    }
    base.update(values)
    return CallbackParams(**base)


def check(
    p: CallbackParams, tx: SignInTransaction | None = TX, now: float = T0 + 5, **meta: Any
) -> str:
    return check_callback(p, tx, metadata=make_metadata(**meta), now=now, timeout=600)


def test_check_callback_accepts_a_good_response() -> None:
    assert check(params()) == "code-1"
    assert check(params(iss=ISSUER + "/")) == "code-1"  # trailing slash tolerated
    assert check(params(iss=None)) == "code-1"  # provider does not advertise iss


@pytest.mark.parametrize(
    ("p", "tx", "now", "meta", "code", "status"),
    [
        (params(state=None), TX, T0, {}, "missing_state", 400),
        (params(state=""), TX, T0, {}, "missing_state", 400),
        (params(), None, T0, {}, "unknown_state", 400),
        (params(state="state-2"), TX, T0, {}, "state_mismatch", 400),
        (params(), TX, T0 + 601, {}, "expired_state", 400),
        (params(iss="https://evil.test"), TX, T0, {}, "issuer_mismatch", 400),
        (params(iss=None), TX, T0, {"iss_parameter_supported": True}, "issuer_missing", 400),
        (params(error="access_denied", code=None), TX, T0, {}, "sign_in_cancelled", 403),
        (params(error="server_error", code=None), TX, T0, {}, "provider_error", 400),
        (params(code=None), TX, T0, {}, "missing_code", 400),
        (params(code=""), TX, T0, {}, "missing_code", 400),
    ],
)
def test_check_callback_rejects(
    p: CallbackParams,
    tx: SignInTransaction | None,
    now: float,
    meta: dict[str, Any],
    code: str,
    status: int,
) -> None:
    with pytest.raises(SignInError) as info:
        check(p, tx, now, **meta)
    assert info.value.code == code
    assert info.value.status == status


def test_provider_error_message_carries_description() -> None:
    with pytest.raises(SignInError) as info:
        check(params(error="access_denied", error_description="User said no", code=None))
    assert "access_denied" in str(info.value)
    assert "User said no" in str(info.value)


def test_error_from_a_foreign_issuer_is_reported_as_issuer_mismatch() -> None:
    # RFC 9207: the iss check comes before anything else in the response is trusted.
    with pytest.raises(SignInError) as info:
        check(params(error="access_denied", iss="https://evil.test"))
    assert info.value.code == "issuer_mismatch"


@pytest.mark.parametrize("name", ["state", "code", "iss", "error"])
def test_repeated_parameters_are_refused(name: str) -> None:
    with pytest.raises(SignInError) as info:
        CallbackParams.from_query(f"state=a&code=b&iss=c&error=d&{name}=again")
    assert info.value.code == "bad_callback"


def test_callback_params_from_query() -> None:
    p = CallbackParams.from_query("code=c%2B1&state=s&iss=https%3A%2F%2Fidp.test&session_state=x")
    assert (p.code, p.state, p.iss, p.session_state, p.error) == (
        "c+1",
        "s",
        "https://idp.test",
        "x",
        None,
    )


# The code exchange -------------------------------------------------------------------------


def token_endpoint(world: World, respond: Callable[[fx.HttpCall], fx.HttpResult]) -> None:
    world.http[TOKEN_URL] = respond


def good_tokens(world: World, tx: SignInTransaction, **claims: Any) -> Callable[..., Any]:
    def respond(call: fx.HttpCall) -> fx.HttpResult:
        id_token = mint_id_token(now=world.now, nonce=tx.nonce, **claims)
        return json_result(200, token_json("at-1", refresh_token="rt-1", id_token=id_token))

    return respond


def test_code_exchange_request(world: World, env: FlowEnv) -> None:
    tx = begin(env, world)
    token_endpoint(world, good_tokens(world, tx))
    world.run(complete_sign_in(env, CallbackParams.from_values("the-code", tx.state), tx))
    (call,) = world.token_calls()
    assert call.method == "POST"
    assert call.url == TOKEN_URL
    assert call.form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://app.test/callback",
        "code_verifier": tx.code_verifier,
    }
    scheme, _, encoded = call.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    assert (unquote_plus(client_id), unquote_plus(secret)) == (CLIENT_ID, CLIENT_SECRET)


def test_success_stores_a_new_random_session_each_time(world: World, env: FlowEnv) -> None:
    ids = []
    for _ in range(3):
        tx = begin(env, world)
        token_endpoint(world, good_tokens(world, tx, sub="user-9", name="Nine"))
        session_id, loaded = world.run(
            complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx)
        )
        ids.append(session_id)
        assert len(session_id) == 43
        stored = world.read_session(env, env.keys.store_key_for("s", session_id))
        assert stored == loaded
        assert stored.record.tokens.access_token == "at-1"
        assert stored.record.tokens.refresh_token == "rt-1"
        assert stored.record.claims["sub"] == "user-9"
        assert stored.record.claims["name"] == "Nine"
        assert "nonce" not in stored.record.claims
        assert stored.record.absolute_expires_at == world.now + env.config.session_max_age
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    ("answered", "expected"),
    [
        (None, ("openid", "profile")),  # RFC 6749 5.1: omitted means the ones asked for
        ("openid profile api:read", ("openid", "profile", "api:read")),
        ("openid", ("openid",)),  # the provider granted less: that is what counts
    ],
)
def test_the_session_holds_the_granted_scopes(
    world: World, env: FlowEnv, answered: str | None, expected: tuple[str, ...]
) -> None:
    assert env.config.scopes == ("openid", "profile")
    tx = begin(env, world)

    def respond(call: fx.HttpCall) -> fx.HttpResult:
        id_token = mint_id_token(now=world.now, nonce=tx.nonce)
        extra: dict[str, Any] = {} if answered is None else {"scope": answered}
        return json_result(200, token_json("at-1", id_token=id_token, **extra))

    token_endpoint(world, respond)
    _, loaded = world.run(complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx))
    assert loaded.record.tokens.scopes == expected


def test_explicit_session_id_stores_under_it(world: World, env: FlowEnv) -> None:
    session_id = "c" * 43
    key = env.keys.store_key_for("s", session_id)
    for round_ in range(2):  # a second sign-in replaces the first under the same id
        tx = begin(env, world)
        token_endpoint(world, good_tokens(world, tx, sub=f"user-{round_}"))
        got, loaded = world.run(
            complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx, session_id)
        )
        assert got == session_id
        stored = world.read_session(env, key)
        assert stored is not None
        assert stored.version == loaded.version
        assert stored.record.claims["sub"] == f"user-{round_}"


def run_failing_sign_in(world: World, env: FlowEnv, tx: SignInTransaction) -> SignInError:
    with pytest.raises(SignInError) as info:
        world.run(complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx))
    assert world.of_type(fx.Save) == []  # no session stored
    return info.value


def test_token_endpoint_error_is_code_rejected(world: World, env: FlowEnv) -> None:
    tx = begin(env, world)
    token_endpoint(
        world, lambda call: json_result(400, {"error": "invalid_grant", "error_description": "x"})
    )
    error = run_failing_sign_in(world, env, tx)
    assert error.code == "code_rejected"
    assert "invalid_grant" in str(error)


def test_no_id_token(world: World, env: FlowEnv) -> None:
    tx = begin(env, world)
    token_endpoint(world, lambda call: json_result(200, token_json()))
    assert run_failing_sign_in(world, env, tx).code == "no_id_token"


@pytest.mark.parametrize(
    "claims",
    [
        {"nonce": "wrong"},
        {"nonce": DROP},
        {"aud": "other-client"},
        {"iss": "https://evil.test"},
        {"exp": int(T0) - 3600},
        {"kid": "k-attacker"},  # signed with a key the provider never published
    ],
)
def test_bad_id_token_is_invalid_id_token(
    world: World, env: FlowEnv, claims: dict[str, Any]
) -> None:
    tx = begin(env, world)

    def respond(call: fx.HttpCall) -> fx.HttpResult:
        values = {"nonce": tx.nonce, "now": world.now, **claims}
        return json_result(200, token_json(id_token=mint_id_token(**values)))

    token_endpoint(world, respond)
    assert run_failing_sign_in(world, env, tx).code == "invalid_id_token"


def test_bad_signature_is_invalid_id_token(world: World, env: FlowEnv) -> None:
    tx = begin(env, world)
    from .driver import signing_key

    def respond(call: fx.HttpCall) -> fx.HttpResult:
        # Right kid in the header, signed by another key.
        token = mint_id_token(nonce=tx.nonce, now=world.now, key=signing_key("k-other"))
        return json_result(200, token_json(id_token=token))

    token_endpoint(world, respond)
    assert run_failing_sign_in(world, env, tx).code == "invalid_id_token"


def test_callback_checks_run_before_the_token_endpoint(world: World, env: FlowEnv) -> None:
    tx = begin(env, world)
    with pytest.raises(SignInError):
        world.run(complete_sign_in(env, CallbackParams.from_values("c", "other-state"), tx))
    assert world.calls == []


def test_a_store_that_refuses_every_save_is_contention_not_a_provider_error(
    world: World, env: FlowEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compare-and-set lost on every retry: its own error (a 503 with Retry-After at the
    middleware), never ``ProviderError`` (a 502 blaming the identity provider)."""
    tx = begin(env, world)
    token_endpoint(world, good_tokens(world, tx))
    monkeypatch.setattr(world, "save", lambda *args: None)
    for session_id in ("c" * 43, None):
        with pytest.raises(StoreContention) as info:
            world.run(
                complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx, session_id)
            )
        assert not isinstance(info.value, ProviderError)
        assert info.value.retry_after == 1


# Step-up: the callback checks the acr and auth_time it asked for -----------------------


def begin_step_up(env: FlowEnv, world: World, **asked: str) -> SignInTransaction:
    _, tx = start_sign_in(
        env.config,
        env.metadata,
        return_to="/billing",
        entropy=world.random_bytes(SIGN_IN_ENTROPY),
        now=world.now,
        extra_params=asked,
    )
    return tx


def test_the_transaction_remembers_the_acr_and_max_age_asked_for(
    world: World, env: FlowEnv
) -> None:
    tx = begin_step_up(env, world, acr_values="urn:mfa urn:hwk", max_age="300")
    assert (tx.acr_values, tx.max_age) == ("urn:mfa urn:hwk", 300)
    opened = SignInTransaction.unseal(env.keys, tx.seal(env.keys, bytes(12)))
    assert opened == tx
    assert (begin(env, world).acr_values, begin(env, world).max_age) == ("", None)


@pytest.mark.parametrize(
    ("asked", "claims"),
    [
        ({"acr_values": "urn:mfa"}, {"acr": "urn:mfa"}),
        ({"acr_values": "urn:mfa urn:hwk"}, {"acr": "urn:hwk"}),
        ({"max_age": "60"}, {"auth_time": int(T0) - 60}),
        ({"max_age": "0"}, {"auth_time": int(T0) - 30}),  # within clock_skew
        ({"acr_values": "urn:mfa", "max_age": "60"}, {"acr": "urn:mfa", "auth_time": int(T0)}),
    ],
)
def test_a_step_up_that_got_what_it_asked_for_signs_in(
    world: World, env: FlowEnv, asked: dict[str, str], claims: dict[str, Any]
) -> None:
    tx = begin_step_up(env, world, **asked)
    token_endpoint(world, good_tokens(world, tx, **claims))
    _, loaded = world.run(complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx))
    assert {k: loaded.record.claims[k] for k in claims} == claims


@pytest.mark.parametrize(
    ("asked", "claims", "code"),
    [
        ({"acr_values": "urn:mfa"}, {}, "acr_not_met"),
        ({"acr_values": "urn:mfa"}, {"acr": "urn:pwd"}, "acr_not_met"),
        ({"acr_values": "urn:mfa"}, {"acr": ["urn:mfa"]}, "acr_not_met"),
        ({"max_age": "60"}, {}, "auth_time_missing"),
        ({"max_age": "60"}, {"auth_time": "now"}, "auth_time_missing"),
        ({"max_age": "60"}, {"auth_time": True}, "auth_time_missing"),
        ({"max_age": "60"}, {"auth_time": int(T0) - 121}, "authentication_too_old"),
        ({"acr_values": "urn:mfa", "max_age": "60"}, {"acr": "urn:mfa"}, "auth_time_missing"),
    ],
)
def test_a_step_up_the_provider_did_not_give_fails_with_403_and_revokes(
    world: World, env: FlowEnv, asked: dict[str, str], claims: dict[str, Any], code: str
) -> None:
    tx = begin_step_up(env, world, **asked)
    token_endpoint(world, good_tokens(world, tx, **claims))
    world.http[REVOKE_URL] = lambda call: fx.HttpResult(200, b"")
    with pytest.raises(SignInError) as raised:
        world.run(complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx))
    assert (raised.value.code, raised.value.status) == (code, 403)
    revoked = {(call.form or {})["token"] for call in world.token_calls(REVOKE_URL)}
    assert revoked == {"at-1", "rt-1"}
    assert world.items == {}  # no session stored


def test_acr_values_from_extra_authorize_params_are_checked_too(world: World) -> None:
    env = make_env(make_config(extra_authorize_params={"acr_values": "urn:mfa"}))
    tx = begin(env, world)
    token_endpoint(world, good_tokens(world, tx, acr="urn:pwd"))
    world.http[REVOKE_URL] = lambda call: fx.HttpResult(200, b"")
    with pytest.raises(SignInError, match="urn:mfa"):
        world.run(complete_sign_in(env, CallbackParams.from_values("c", tx.state), tx))
