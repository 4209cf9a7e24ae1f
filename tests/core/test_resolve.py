"""resolve(): a request's session beyond the hot path (lifetimes, refresh, touch)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.env import FlowEnv, Loaded
from thunderid_mw.core.resolve import EXPIRY_MARGIN, Resolved, resolve, usable_until
from thunderid_mw.core.session import EndReason

from .driver import T0, TOKEN_URL, World, json_result, make_record, token_json

SID = "q" * 43


def start(world: World, env: FlowEnv, **record: Any) -> tuple[str, Loaded]:
    key = env.keys.store_key_for("s", SID)
    return key, world.put_session(env, key, make_record(T0, **record))


def run(world: World, env: FlowEnv, key: str, loaded: Loaded, **kw: Any) -> Resolved:
    world.effects.clear()
    return world.run(resolve(env, key, loaded, **kw))


@pytest.mark.parametrize(
    ("record", "at"),
    [
        ({}, 8 * 3600),  # idle limit reached
        ({"last_seen": T0 - 8 * 3600 + 10}, 10),
        ({"absolute_expires_at": T0 + 100}, 100),
        ({"refresh_expires_at": T0 + 50}, 50),  # the refresh token's own expiry
        ({"refresh_token": None, "expires_in": 10.0}, 10),  # no refresh token, token expired
    ],
)
def test_past_deadline_becomes_an_expired_tombstone(
    world: World, env: FlowEnv, record: dict[str, Any], at: float
) -> None:
    key, loaded = start(world, env, **record)
    world.http[TOKEN_URL] = lambda call: json_result(200, token_json())
    world.now = T0 + at
    assert run(world, env, key, loaded) == Resolved(None, EndReason.EXPIRED)
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is EndReason.EXPIRED
    assert stored.record.tokens.access_token == ""
    assert world.calls == []
    # The reason is remembered for ended_session_memory from the end, for later requests.
    assert world.items[key].expires_at == world.now + env.config.ended_session_memory


def test_just_before_the_deadline_is_alive(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env, absolute_expires_at=T0 + 100, expires_in=3600.0)
    world.now = T0 + 99
    resolved = run(world, env, key, loaded)
    assert resolved.loaded is not None
    assert resolved.ended is None


def test_tombstone_resolves_to_its_reason(world: World, env: FlowEnv) -> None:
    key = env.keys.store_key_for("s", SID)
    loaded = world.put_session(env, key, make_record(T0).tombstone(EndReason.REVOKED))
    assert run(world, env, key, loaded) == Resolved(None, EndReason.REVOKED)
    assert world.of_type(fx.Save) == []


def test_touch_only_after_touch_interval(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    world.now = T0 + env.config.touch_interval - 1
    assert run(world, env, key, loaded) == Resolved(loaded)
    assert world.of_type(fx.Save) == []
    world.now = T0 + env.config.touch_interval
    resolved = run(world, env, key, loaded)
    (save,) = world.of_type(fx.Save)
    assert save.expected_version == loaded.version
    assert resolved.loaded is not None
    assert resolved.loaded.record.last_seen == world.now
    assert resolved.loaded.version != loaded.version
    assert world.read_session(env, key) == resolved.loaded


def test_lost_touch_race_is_harmless(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env)
    world.put_session(env, key, loaded.record.touched(T0 + 1))  # someone newer wrote
    world.now = T0 + env.config.touch_interval
    resolved = run(world, env, key, loaded)
    assert resolved.loaded == loaded  # still usable as read


def refresh_due(world: World, env: FlowEnv) -> tuple[str, Loaded]:
    key, loaded = start(world, env, expires_in=3600.0)
    world.now = T0 + 3600 - 30  # inside the 60 s leeway, touch is due too
    return key, loaded


def expired(world: World, env: FlowEnv) -> tuple[str, Loaded]:
    key, loaded = start(world, env, expires_in=3600.0)
    world.now = T0 + 3600 + 5
    return key, loaded


def test_refresh_due_goes_on_at_once_and_refreshes_in_the_background(
    world: World, env: FlowEnv
) -> None:
    """The token is still valid: the request uses it without waiting; the refresh runs in
    the background and the next request gets the new token."""
    key, loaded = refresh_due(world, env)
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: json_result(200, token_json("at-2"))
    resolved = run(world, env, key, loaded)
    assert resolved.unavailable is None and resolved.loaded is not None
    assert resolved.loaded.record.tokens.access_token == "at-1"
    assert world.of_type(fx.Sleep) == []
    assert len(world.calls) == 1
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.tokens.access_token == "at-2"


def test_refresh_due_never_waits_for_a_slow_refresh(world: World, env: FlowEnv) -> None:
    key, loaded = refresh_due(world, env)  # world.background is None: it never lands
    resolved = run(world, env, key, loaded)
    assert resolved.loaded is not None
    assert resolved.loaded.record.tokens.access_token == "at-1"
    assert world.started == [fx.StartRefresh(key, False)]
    assert world.of_type(fx.Sleep) == []


def test_refresh_due_and_unavailable_is_still_usable(world: World, env: FlowEnv) -> None:
    key, loaded = refresh_due(world, env)
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: fx.HttpFailure("down")
    resolved = run(world, env, key, loaded)
    assert resolved.unavailable is None
    assert resolved.ended is None
    assert resolved.loaded is not None
    assert resolved.loaded.record.tokens.access_token == "at-1"


def test_expired_and_unavailable_is_a_503(world: World, env: FlowEnv) -> None:
    key, loaded = expired(world, env)
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: fx.HttpResult(503, b"")
    resolved = run(world, env, key, loaded)
    assert resolved.unavailable is not None
    assert resolved.loaded is not None  # the session is kept for a later try
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is None
    assert stored.record.tokens.refresh_token == "rt-1"


def test_an_expired_token_waits_at_most_refresh_wait_timeout(world: World, env: FlowEnv) -> None:
    key, loaded = expired(world, env)  # the background refresh never lands
    began = world.now
    resolved = run(world, env, key, loaded)
    assert resolved.unavailable is not None
    assert began + env.config.refresh_wait_timeout <= world.now
    assert world.now <= began + env.config.refresh_wait_timeout + 0.2


def test_no_expired_token_after_a_wait(world: World, env: FlowEnv) -> None:
    """A forced refresh of a token that expires during the wait: the answer is a 503,
    never the token that expired meanwhile."""
    key, loaded = start(world, env, expires_in=5.0)
    world.now = T0 + 1
    resolved = run(world, env, key, loaded, force_refresh=True)
    assert world.now > T0 + 5
    assert resolved.unavailable is not None


@pytest.mark.parametrize("state", ["refresh_due", "expired"])
def test_a_failed_refresh_is_not_retried_before_the_backoff(
    world: World, env: FlowEnv, state: str
) -> None:
    key, loaded = (refresh_due if state == "refresh_due" else expired)(world, env)
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: fx.HttpResult(503, b"")
    first = run(world, env, key, loaded)
    assert len(world.calls) == 1
    assert world.refresh_failed_at[key] == world.now
    # Within the backoff the provider is not called again; the outcome is the same.
    world.calls.clear()
    again = run(world, env, key, loaded, retry_not_before=world.now + 5)
    assert world.calls == []
    assert (again.unavailable is None) == (first.unavailable is None)
    assert world.of_type(fx.Sleep) == []  # nor does an expired token wait for nothing
    # A forced refresh (an API said 401) ignores the backoff.
    run(world, env, key, loaded, retry_not_before=world.now + 5, force_refresh=True)
    assert len(world.calls) == 1


def test_expired_and_rotated(world: World, env: FlowEnv) -> None:
    key, loaded = expired(world, env)
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: json_result(200, token_json("at-2"))
    resolved = run(world, env, key, loaded)
    assert resolved.unavailable is None
    assert resolved.loaded is not None
    assert resolved.loaded.record.tokens.access_token == "at-2"


def test_expired_and_rejected_is_signed_out_with_reason(world: World, env: FlowEnv) -> None:
    key, loaded = expired(world, env)
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: json_result(400, {"error": "invalid_grant"})
    resolved = run(world, env, key, loaded)
    assert resolved == Resolved(None, EndReason.REFRESH_REJECTED)


def test_force_refresh_of_a_fresh_token(world: World, env: FlowEnv) -> None:
    key, loaded = start(world, env, expires_in=3600.0)
    world.now = T0 + 1
    world.refresh_in_background(env)
    world.http[TOKEN_URL] = lambda call: json_result(200, token_json("at-2"))
    resolved = run(world, env, key, loaded, force_refresh=True)
    assert resolved.loaded is not None
    assert resolved.loaded.record.tokens.access_token == "at-2"
    assert len(world.calls) == 1


def needs_slow_path(loaded: Loaded, now: float, config: ThunderIDConfig) -> bool:
    return now >= usable_until(loaded.record, config)


def test_usable_until_decides_the_slow_path(world: World, env: FlowEnv) -> None:
    config = env.config
    _, loaded = start(world, env, expires_in=3600.0)
    assert needs_slow_path(loaded, T0 + 1, config) is False
    assert needs_slow_path(loaded, T0 + config.touch_interval, config) is True
    assert needs_slow_path(loaded, T0 + 3600 - 30, config) is True  # refresh due
    tomb = Loaded(loaded.record.tombstone(EndReason.SIGNED_OUT), loaded.version)
    assert needs_slow_path(tomb, T0 + 1, config) is False
    short = Loaded(make_record(T0, absolute_expires_at=T0 + 10), 1)
    assert needs_slow_path(short, T0 + 10, config) is True


def test_a_token_about_to_expire_is_not_handed_out(world: World, env: FlowEnv) -> None:
    """Within EXPIRY_MARGIN of its expiry a token would expire on its way to the API: the
    request waits for the refresh instead (here it never lands: a 503)."""
    key, loaded = start(world, env, expires_in=3600.0)
    world.now = T0 + 3600 - EXPIRY_MARGIN / 2
    resolved = run(world, env, key, loaded)
    assert resolved.unavailable is not None
    assert world.of_type(fx.Sleep)  # it waited; it did not serve the old token


def test_a_token_that_cannot_be_renewed_ends_just_before_it_expires(
    world: World, env: FlowEnv
) -> None:
    key, loaded = start(world, env, refresh_token=None, expires_in=60.0)
    world.now = T0 + 60 - EXPIRY_MARGIN / 2
    assert run(world, env, key, loaded) == Resolved(None, EndReason.EXPIRED)


def test_usable_until_keeps_the_margin_without_a_leeway(world: World, env: FlowEnv) -> None:
    config = dataclasses.replace(env.config, refresh_leeway=0.0)
    _, loaded = start(world, env, expires_in=60.0, last_seen=T0)
    assert usable_until(loaded.record, config) <= T0 + 60 - EXPIRY_MARGIN
