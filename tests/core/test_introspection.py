"""The refresh token's expiry, learnt once at sign-in (RFC 7662 introspection or a JWT's
own ``exp``), bounds the session; failing to learn it never fails a sign-in."""

from __future__ import annotations

import json

from thunderid_mw.core import effects as fx
from thunderid_mw.core.crypto import b64url
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.introspection import refresh_token_expiry
from thunderid_mw.core.tokens import TokenSet

from .driver import ISSUER, T0, World, json_result, make_config, make_env

INTROSPECT_URL = ISSUER + "/oauth2/introspect"


def _tokens(refresh_token: str | None = "rt-opaque", **kw: float) -> TokenSet:
    return TokenSet(access_token="at", refresh_token=refresh_token, **kw)  # type: ignore[arg-type]


def test_introspection_gives_the_expiry(world: World, env: FlowEnv) -> None:
    world.http[INTROSPECT_URL] = lambda call: json_result(200, {"active": True, "exp": T0 + 500})
    assert world.run(refresh_token_expiry(env, _tokens())) == T0 + 500
    (call,) = world.calls
    assert call.form is not None
    assert call.form["token"] == "rt-opaque"
    assert call.form["token_type_hint"] == "refresh_token"
    assert call.headers["Authorization"].startswith("Basic ")  # the client authenticates


def test_a_jwt_refresh_token_needs_no_call(world: World, env: FlowEnv) -> None:
    payload = b64url(json.dumps({"exp": T0 + 900}).encode())
    jwt_like = f"{b64url(b'{}')}.{payload}.sig"
    assert world.run(refresh_token_expiry(env, _tokens(jwt_like))) == T0 + 900
    assert world.calls == []


def test_the_token_response_wins(world: World, env: FlowEnv) -> None:
    tokens = _tokens(refresh_expires_at=T0 + 42)
    assert world.run(refresh_token_expiry(env, tokens)) == T0 + 42
    assert world.calls == []


def test_no_refresh_token_or_public_client_asks_nothing(world: World) -> None:
    assert world.run(refresh_token_expiry(make_env(), _tokens(None))) is None
    public = make_env(make_config(client_secret=None))
    assert world.run(refresh_token_expiry(public, _tokens())) is None
    assert world.calls == []


def test_failures_leave_the_expiry_unknown(world: World, env: FlowEnv) -> None:
    answers: list[fx.HttpResult | fx.HttpFailure] = [
        fx.HttpFailure("down"),
        fx.HttpResult(500, b"oops"),
        fx.HttpResult(200, b"not json"),
        json_result(200, {"active": False}),
        json_result(200, {"active": True}),  # no exp
    ]
    for answer in answers:

        def reply(
            call: fx.HttpCall, answer: fx.HttpResult | fx.HttpFailure = answer
        ) -> fx.HttpResult | fx.HttpFailure:
            return answer

        world.http[INTROSPECT_URL] = reply
        assert world.run(refresh_token_expiry(env, _tokens())) is None, answer
