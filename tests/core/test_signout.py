"""Sign-out: revocation (RFC 7009), the local tombstone, and RP-initiated logout."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.discovery import ProviderMetadata
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.session import EndReason
from thunderid_mw.core.signout import end_session, end_session_url, revoke_tokens

from .driver import (
    APP_URL,
    CLIENT_ID,
    LOGOUT_URL,
    REVOKE_URL,
    World,
    make_config,
    make_env,
    make_metadata,
    make_record,
)

SID = "o" * 43


def start(world: World, env: FlowEnv, **record: object) -> str:
    key = env.keys.store_key_for("s", SID)
    world.put_session(env, key, make_record(world.now, **record))  # type: ignore[arg-type]
    return key


def test_revokes_refresh_then_access_token(world: World, env: FlowEnv) -> None:
    world.http[REVOKE_URL] = lambda call: fx.HttpResult(200, b"")
    assert world.run(revoke_tokens(env, make_record().tokens)) is True
    assert [c.url for c in world.calls] == [REVOKE_URL, REVOKE_URL]
    forms = [c.form for c in world.calls]
    assert forms[0] is not None and forms[1] is not None
    assert (forms[0]["token"], forms[0]["token_type_hint"]) == ("rt-1", "refresh_token")
    assert (forms[1]["token"], forms[1]["token_type_hint"]) == ("at-1", "access_token")
    assert all(c.method == "POST" and "Authorization" in c.headers for c in world.calls)


def test_without_refresh_token_only_the_access_token(world: World, env: FlowEnv) -> None:
    world.http[REVOKE_URL] = lambda call: fx.HttpResult(200, b"")
    world.run(revoke_tokens(env, make_record(refresh_token=None).tokens))
    assert [c.form["token_type_hint"] for c in world.calls if c.form] == ["access_token"]


@pytest.mark.parametrize(
    "answer",
    [fx.HttpFailure("connection refused"), fx.HttpResult(503, b""), fx.HttpResult(400, b"")],
)
def test_failing_revocation_is_logged_not_raised(
    world: World, env: FlowEnv, answer: fx.HttpResult | fx.HttpFailure
) -> None:
    world.http[REVOKE_URL] = lambda call: answer
    assert world.run(revoke_tokens(env, make_record().tokens)) is False
    assert len(world.calls) == 2  # the second token is still tried
    assert [log.level for log in world.logs] == [logging.WARNING, logging.WARNING]


def test_no_revocation_endpoint_is_logged(world: World) -> None:
    env = make_env(metadata=make_metadata(revocation_endpoint=None))
    assert world.run(revoke_tokens(env, make_record().tokens)) is False
    assert world.calls == []
    assert [log.level for log in world.logs] == [logging.WARNING]


@pytest.mark.parametrize("working", [True, False])
def test_session_ends_even_when_revocation_fails(world: World, env: FlowEnv, working: bool) -> None:
    key = start(world, env, id_token="the-id-token")
    world.http[REVOKE_URL] = lambda call: (
        fx.HttpResult(200, b"") if working else fx.HttpFailure("down")
    )
    record = world.run(end_session(env, key, EndReason.SIGNED_OUT, revoke=True))
    assert record is not None
    assert record.tokens.id_token == "the-id-token"  # for the id_token_hint
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is EndReason.SIGNED_OUT
    assert stored.record.tokens.access_token == ""
    assert len(world.calls) == 2


def test_end_session_without_revoke(world: World, env: FlowEnv) -> None:
    key = start(world, env)
    world.run(end_session(env, key, EndReason.REVOKED, revoke=False))
    assert world.calls == []
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is EndReason.REVOKED


def test_end_session_of_nothing(world: World, env: FlowEnv) -> None:
    key = start(world, env)
    assert world.run(end_session(env, key, EndReason.SIGNED_OUT, revoke=False)) is not None
    # Ended already: nothing to revoke, no second write.
    world.effects.clear()
    assert world.run(end_session(env, key, EndReason.SIGNED_OUT, revoke=True)) is None
    assert world.of_type(fx.Save) == []
    assert world.calls == []
    assert world.run(end_session(env, "s:missing", EndReason.SIGNED_OUT, revoke=True)) is None


def _metadata(env: FlowEnv) -> ProviderMetadata:
    assert env.metadata is not None
    return env.metadata


def test_end_session_url(env: FlowEnv) -> None:
    url = end_session_url(env.config, _metadata(env), "the-id-token")
    assert url.startswith(LOGOUT_URL + "?")
    q = parse_qs(urlsplit(url).query)
    assert q == {
        "id_token_hint": ["the-id-token"],
        "post_logout_redirect_uri": [APP_URL + "/bye"],
        "client_id": [CLIENT_ID],
    }


def test_end_session_url_without_id_token(env: FlowEnv) -> None:
    q = parse_qs(urlsplit(end_session_url(env.config, _metadata(env), None)).query)
    assert "id_token_hint" not in q
    assert q["client_id"] == [CLIENT_ID]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("both", {"id_token_hint", "client_id"}),
        ("id_token_hint", {"id_token_hint"}),
        ("client_id", {"client_id"}),
    ],
)
def test_end_session_hint_chooses_what_is_sent(hint: str, expected: set[str]) -> None:
    env = make_env(make_config(end_session_hint=hint))
    q = parse_qs(urlsplit(end_session_url(env.config, _metadata(env), "the-id-token")).query)
    assert set(q) - {"post_logout_redirect_uri"} == expected
    assert q["post_logout_redirect_uri"] == [APP_URL + "/bye"]


def test_id_token_hint_only_falls_back_to_client_id_without_an_id_token() -> None:
    env = make_env(make_config(end_session_hint="id_token_hint"))
    q = parse_qs(urlsplit(end_session_url(env.config, _metadata(env), None)).query)
    assert q["client_id"] == [CLIENT_ID] and "id_token_hint" not in q


def test_no_end_session_endpoint_goes_to_post_sign_out_url() -> None:
    env = make_env(metadata=make_metadata(end_session_endpoint=None))
    assert end_session_url(env.config, _metadata(env), "the-id-token") == APP_URL + "/bye"
    env = make_env(make_config(after_sign_out_url=None), make_metadata(end_session_endpoint=None))
    assert end_session_url(env.config, _metadata(env), None) == APP_URL + "/"
