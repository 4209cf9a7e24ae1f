"""A user's sessions through the sub index: listed by tag, ended one, all, or all but
the caller's (core/inventory.py)."""

from __future__ import annotations

from thunderid_mw.core.backchannel import add_to_indexes
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.inventory import end_user_sessions, user_sessions
from thunderid_mw.core.session import EndReason

from .driver import T0, World, make_record


def signed_in(world: World, env: FlowEnv, session_id: str, sub: str, at: float) -> None:
    record = make_record(at, claims={"sub": sub, "sid": "idp-" + session_id})
    key = env.keys.store_key_for("s", session_id)
    world.run(env.save(key, record, None))
    world.run(add_to_indexes(env, key, record.claims, env.store_expiry(record)))


def test_lists_only_the_users_live_sessions_by_tag(world: World, env: FlowEnv) -> None:
    signed_in(world, env, "laptop-session-id", "alice", T0)
    signed_in(world, env, "phone-session-id", "alice", T0 + 5)
    signed_in(world, env, "bob-session-id", "bob", T0)
    found = world.run(user_sessions(env, "alice"))
    tags = [info.tag for _, info in found]
    assert tags == [
        env.keys.session_tag("laptop-session-id"),
        env.keys.session_tag("phone-session-id"),
    ]
    assert "laptop-session-id" not in repr(found)
    assert world.run(user_sessions(env, "nobody")) == []


def test_end_other_devices_keeps_the_callers_session(world: World, env: FlowEnv) -> None:
    for name in ("a", "b", "c"):
        signed_in(world, env, f"session-{name}", "alice", T0)
    ended = world.run(end_user_sessions(env, "alice", keep_session_id="session-b"))
    assert sorted(ended) == sorted(env.keys.session_tag(f"session-{n}") for n in "ac")
    left = world.run(user_sessions(env, "alice"))
    assert [info.tag for _, info in left] == [env.keys.session_tag("session-b")]
    gone = world.read_session(env, env.keys.store_key_for("s", "session-a"))
    assert gone is not None and gone.record.ended is EndReason.SIGNED_OUT


def test_end_one_by_tag_and_an_unknown_tag_ends_nothing(world: World, env: FlowEnv) -> None:
    signed_in(world, env, "session-a", "alice", T0)
    signed_in(world, env, "session-b", "alice", T0)
    assert world.run(end_user_sessions(env, "alice", tag="no-such-tag")) == []
    tag = env.keys.session_tag("session-a")
    assert world.run(end_user_sessions(env, "alice", tag=tag)) == [tag]
    assert len(world.run(user_sessions(env, "alice"))) == 1
