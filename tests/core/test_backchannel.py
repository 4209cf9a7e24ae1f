"""``core/backchannel.py``: the session index and the logout flow end every session of a
``sid`` or ``sub``, however many, and nothing else."""

from __future__ import annotations

from typing import Any

from thunderid_mw.core.backchannel import (
    INDEX_PAGE_SIZE,
    LOGOUT_EVENT,
    add_to_indexes,
    logout_flow,
)
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.session import EndReason

from .driver import DROP, T0, World, make_record, mint_id_token


def _sign_in(world: World, env: FlowEnv, n: int, claims: dict[str, Any]) -> str:
    key = env.keys.store_key_for("s", f"session-{n}-{claims['sub']}")
    world.run(env.save(key, make_record(claims=claims), None))
    world.run(add_to_indexes(env, key, claims, T0 + 3600))
    return key


def _logout_token(jti: str, **claims: Any) -> str:
    return mint_id_token(events={LOGOUT_EVENT: {}}, nonce=DROP, jti=jti, **claims)


def _ended(world: World, env: FlowEnv, key: str) -> EndReason | None:
    loaded = world.run(env.load(key))
    assert loaded is not None
    return loaded.record.ended


def test_a_logout_by_sub_ends_every_session_of_that_user(world: World, env: FlowEnv) -> None:
    many = 3 * INDEX_PAGE_SIZE + 7
    alice = [_sign_in(world, env, n, {"sub": "user-1"}) for n in range(many)]
    bob = _sign_in(world, env, 0, {"sub": "user-2"})
    response = world.run(logout_flow(env, {"logout_token": _logout_token("j1", sub="user-1")}))
    assert response.status == 200
    assert all(_ended(world, env, key) is EndReason.LOGGED_OUT_BY_PROVIDER for key in alice)
    assert _ended(world, env, bob) is None


def test_a_logout_by_sid_ends_only_that_provider_session(world: World, env: FlowEnv) -> None:
    first = [_sign_in(world, env, n, {"sub": "user-1", "sid": "sid-a"}) for n in range(60)]
    other = _sign_in(world, env, 99, {"sub": "user-1", "sid": "sid-b"})
    token = _logout_token("j2", sub=DROP, sid="sid-a")
    assert world.run(logout_flow(env, {"logout_token": token})).status == 200
    assert all(_ended(world, env, key) is not None for key in first)
    assert _ended(world, env, other) is None


def test_a_replayed_logout_token_is_refused(world: World, env: FlowEnv) -> None:
    _sign_in(world, env, 0, {"sub": "user-1"})
    token = _logout_token("j3", sub="user-1")
    assert world.run(logout_flow(env, {"logout_token": token})).status == 200
    assert world.run(logout_flow(env, {"logout_token": token})).status == 400


def test_a_token_without_the_logout_event_is_refused(world: World, env: FlowEnv) -> None:
    key = _sign_in(world, env, 0, {"sub": "user-1"})
    token = mint_id_token(nonce=DROP, jti="j4")
    assert world.run(logout_flow(env, {"logout_token": token})).status == 400
    assert _ended(world, env, key) is None
