"""Single-flight refresh: one refresh-token grant per session, whatever the interleaving."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.env import FlowEnv, Loaded
from thunderid_mw.core.errors import ProviderError, StoreUnavailable
from thunderid_mw.core.refresh import RefreshResult, refresh, refresh_lock_name
from thunderid_mw.core.session import EndReason
from thunderid_mw.core.token_state import RefreshOutcome

from .driver import (
    DROP,
    TOKEN_URL,
    Lease,
    World,
    json_result,
    make_record,
    mint_id_token,
    token_json,
)

SID = "r" * 43
DUE = 30.0  # expires within the 60 s leeway


def start(world: World, env: FlowEnv, **record: Any) -> tuple[str, Loaded]:
    key = env.keys.store_key_for("s", SID)
    options: dict[str, Any] = {"expires_in": DUE}
    options.update(record)
    return key, world.put_session(env, key, make_record(world.now, **options))


def idp_rotates(world: World, **extra: Any) -> None:
    def respond(call: fx.HttpCall) -> fx.HttpResult:
        n = len(world.token_calls())
        return json_result(200, token_json(f"at-new-{n}", refresh_token=f"rt-new-{n}", **extra))

    world.http[TOKEN_URL] = respond


def idp_answers(world: World, result: fx.HttpResult | fx.HttpFailure) -> None:
    world.http[TOKEN_URL] = lambda call: result


def run_refresh(world: World, env: FlowEnv, key: str, seen: Loaded, **kw: Any) -> RefreshResult:
    result = world.run(refresh(env, key, seen, **kw))
    # Whatever happened, every lease the flow took was released.
    assert all(lease in world.released for lease in world.granted)
    ours = {owner for _, owner in world.granted}
    assert not [lease for lease in world.live_leases().values() if lease.owner in ours]
    return result


def sibling_rotates(world: World, env: FlowEnv, key: str, access_token: str = "at-sib") -> Loaded:
    """Another worker wrote a refreshed record (new access and refresh token)."""
    current = world.read_session(env, key)
    assert current is not None
    tokens = current.record.tokens.merged_with(
        current.record.tokens.__class__(
            access_token=access_token, expires_at=world.now + 3600, refresh_token="rt-sib"
        )
    )
    record = current.record.with_tokens(tokens)
    version = world.sibling(env.save(key, record, current.version))
    assert version is not None
    return Loaded(record, version)


# Success -----------------------------------------------------------------------------------


def test_success_rotates_tokens_and_writes_with_cas(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    world.now += 5
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    (call,) = world.token_calls()
    assert call.form is not None
    assert call.form["grant_type"] == "refresh_token"
    assert call.form["refresh_token"] == "rt-1"
    (save,) = world.of_type(fx.Save)
    assert save.expected_version == seen.version
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored == result.loaded
    tokens = stored.record.tokens
    assert (tokens.access_token, tokens.refresh_token) == ("at-new-1", "rt-new-1")
    assert tokens.expires_at == world.now + 3600
    assert tokens.id_token == "id-1"  # not sent again: kept
    assert stored.record.last_seen == world.now
    (acquire,) = world.of_type(fx.AcquireLock)
    assert acquire.name == refresh_lock_name(key)
    assert acquire.lease == env.config.effective_lock_lease
    (release,) = world.of_type(fx.ReleaseLock)
    assert (release.name, release.owner) == (acquire.name, acquire.owner)


def test_refreshed_id_token_updates_claims(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world, id_token=mint_id_token(now=world.now, nonce=None, name="New Name"))
    result = run_refresh(world, env, key, seen)
    assert result.loaded is not None
    assert result.loaded.record.claims["name"] == "New Name"
    assert result.loaded.record.tokens.id_token != "id-1"


@pytest.mark.parametrize(
    ("claims", "level"),
    [({"sub": "someone-else"}, logging.ERROR), ({"aud": "other-client"}, logging.WARNING)],
)
def test_refreshed_id_token_that_does_not_fit_keeps_claims(
    world: World, env: FlowEnv, claims: dict[str, Any], level: int
) -> None:
    key, seen = start(world, env, claims={"sub": "user-1", "name": "Old"})
    idp_rotates(world, id_token=mint_id_token(now=world.now, nonce=None, **claims))
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    assert result.loaded is not None
    assert result.loaded.record.claims == {"sub": "user-1", "name": "Old"}
    assert [log.level for log in world.logs] == [level]


def test_refreshed_id_token_with_the_jwks_unreachable_keeps_tokens_and_claims(
    world: World, env: FlowEnv
) -> None:
    """The refresh token was already rotated: the new tokens must be kept even when the
    new ID token cannot be checked now (and the request must not fail)."""
    key, seen = start(world, env, claims={"sub": "user-1", "name": "Old"})
    idp_rotates(world, id_token=mint_id_token(now=world.now, nonce=None, name="New"))

    def jwks_down(_: fx.Effect) -> None:
        raise ProviderError("the JWKS endpoint could not be reached")

    world.hook(fx.GetKeySet, jwks_down)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    assert result.loaded is not None
    assert result.loaded.record.tokens.access_token != "at-1"
    assert result.loaded.record.claims == {"sub": "user-1", "name": "Old"}
    assert [log.level for log in world.logs] == [logging.WARNING]


# Siblings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sibling_releases", [True, False])
def test_waiter_picks_up_the_siblings_result_with_zero_token_calls(
    world: World, env: FlowEnv, sibling_releases: bool
) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    name = refresh_lock_name(key)
    world.leases[name] = Lease("sibling", world.now + 15)

    def sibling_finishes(_: fx.Effect) -> None:
        sibling_rotates(world, env, key)
        if sibling_releases:
            assert world.release(name, "sibling")

    world.hook(fx.Sleep, sibling_finishes, nth=3)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    assert result.loaded is not None
    assert result.loaded.record.tokens.access_token == "at-sib"
    assert world.token_calls() == []
    assert len(world.of_type(fx.Sleep)) == 3  # it waited, then stopped at the result
    assert world.of_type(fx.Save) == []
    # Still held by the sibling: the result was read from the store without the lease.
    assert world.granted == ([(name, world.granted[0][1])] if sibling_releases else [])


def test_waiter_sees_the_sibling_end_the_session(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    name = refresh_lock_name(key)
    world.leases[name] = Lease("sibling", world.now + 15)

    def sibling_rejected(_: fx.Effect) -> None:
        current = world.read_session(env, key)
        assert current is not None
        tomb = current.record.tombstone(EndReason.REFRESH_REJECTED)
        assert world.sibling(env.save(key, tomb, current.version)) is not None
        assert world.release(name, "sibling")

    world.hook(fx.Sleep, sibling_rejected, nth=1)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.REJECTED
    assert world.token_calls() == []


def test_holder_finds_a_sibling_already_rotated(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    sibling_rotates(world, env, key)  # between our read and our lock
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    assert result.loaded is not None
    assert result.loaded.record.tokens.access_token == "at-sib"
    assert world.token_calls() == []
    assert len(world.of_type(fx.AcquireLock)) == 1


def test_holder_finds_the_session_gone(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    del world.items[key]
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.REJECTED
    assert result.loaded is None
    assert world.token_calls() == []


def test_dead_holders_lease_lapses_and_the_waiter_takes_over(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    world.leases[refresh_lock_name(key)] = Lease("dead-worker", world.now + 2)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    assert len(world.token_calls()) == 1


# invalid_grant -----------------------------------------------------------------------------


def test_invalid_grant_but_a_sibling_rotated_meanwhile_keeps_the_session(
    world: World, env: FlowEnv
) -> None:
    key, seen = start(world, env)

    def respond(call: fx.HttpCall) -> fx.HttpResult:
        # A sibling on another host (its lease lapsed) used the refresh token first.
        sibling_rotates(world, env, key)
        return json_result(400, {"error": "invalid_grant", "error_description": "reused"})

    world.http[TOKEN_URL] = respond
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is None
    assert stored.record.tokens.access_token == "at-sib"
    assert result.loaded == stored
    assert len(world.token_calls()) == 1


def test_invalid_grant_for_real_ends_the_session(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_answers(world, json_result(400, {"error": "invalid_grant"}))
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.REJECTED
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is EndReason.REFRESH_REJECTED
    assert stored.record.tokens.access_token == ""
    assert stored.record.tokens.refresh_token is None
    assert result.loaded == stored
    # It re-read the store before declaring the session dead.
    loads = world.of_type(fx.Load)
    assert len(loads) >= 2
    assert len(world.token_calls()) == 1


# The provider is away ----------------------------------------------------------------------


WRONG_SCHEME = fx.HttpFailure("does not speak TLS", wrong_scheme=True)


@pytest.mark.parametrize(
    "answer",
    [
        fx.HttpFailure("connection refused"),  # certainly not sent (sent=False)
        WRONG_SCHEME,
        fx.HttpResult(503, b"<html>down</html>"),
        json_result(500, {"error": "invalid_grant"}),  # a 5xx is never a rejection
        fx.HttpResult(200, b"not json"),
        json_result(401, {"error": "invalid_client"}),  # not about this session
    ],
)
def test_unavailable_keeps_the_session_unchanged(
    world: World, env: FlowEnv, answer: fx.HttpResult | fx.HttpFailure
) -> None:
    key, seen = start(world, env)
    before = world.items[key]
    idp_answers(world, answer)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.UNAVAILABLE
    assert result.loaded == seen
    assert world.items[key] == before
    assert world.of_type(fx.Save) == []
    assert len(world.token_calls()) == 1
    assert world.logs  # said why


def test_wait_timeout_is_unavailable(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    start_time = world.now
    world.leases[refresh_lock_name(key)] = Lease("stuck", world.now + 10_000)
    result = world.run(refresh(env, key, seen))
    assert result.outcome is RefreshOutcome.UNAVAILABLE
    assert "timed out" in result.detail
    assert world.token_calls() == []
    assert world.now - start_time >= env.config.refresh_wait_timeout
    assert world.now - start_time < env.config.refresh_wait_timeout + 1
    assert world.leases[refresh_lock_name(key)].owner == "stuck"  # never released by us
    # The wait never asks the driver to queue longer than the time left.
    waits = [e.wait for e in world.of_type(fx.AcquireLock)]
    assert waits[0] == env.config.refresh_wait_timeout
    assert all(w <= env.config.refresh_wait_timeout for w in waits)
    assert waits[-1] == 0.0


# Concurrent writes -------------------------------------------------------------------------


def test_concurrent_touch_between_read_and_save_is_not_lost(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    marker = seen.record.absolute_expires_at + 123  # only the concurrent writer sets this

    def touch(_: fx.Effect) -> None:
        current = world.read_session(env, key)
        assert current is not None
        from dataclasses import replace

        newer = replace(current.record.touched(world.now), absolute_expires_at=marker)
        assert world.sibling(env.save(key, newer, current.version)) is not None

    world.hook(fx.HttpCall, touch)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    saves = world.of_type(fx.Save)
    assert [s.expected_version for s in saves] == [seen.version, seen.version + 1]
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.version == seen.version + 2
    assert stored.record.tokens.access_token == "at-new-1"
    assert stored.record.tokens.refresh_token == "rt-new-1"
    assert stored.record.absolute_expires_at == marker  # built on the newer record
    assert len(world.token_calls()) == 1


def test_sign_out_during_refresh_is_not_undone(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    idp_rotates(world)

    def sign_out(_: fx.Effect) -> None:
        current = world.read_session(env, key)
        assert current is not None
        tomb = current.record.tombstone(EndReason.SIGNED_OUT)
        assert world.sibling(env.save(key, tomb, current.version)) is not None

    world.hook(fx.HttpCall, sign_out)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.REJECTED
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.ended is EndReason.SIGNED_OUT
    assert stored.record.tokens.access_token == ""


# The lease is always released --------------------------------------------------------------


@pytest.mark.parametrize(
    "setup",
    [
        lambda w: idp_rotates(w),
        lambda w: idp_answers(w, json_result(400, {"error": "invalid_grant"})),
        lambda w: idp_answers(w, fx.HttpFailure("down")),
        lambda w: idp_answers(w, fx.HttpResult(502, b"")),
    ],
)
def test_lease_released_on_every_outcome(
    world: World, env: FlowEnv, setup: Callable[[World], None]
) -> None:
    key, seen = start(world, env)
    setup(world)
    world.run(refresh(env, key, seen))
    assert world.live_leases() == {}
    assert len(world.of_type(fx.ReleaseLock)) == 1


@pytest.mark.parametrize("kind", [fx.Save, fx.Load, fx.HttpCall])
def test_lease_released_when_an_effect_raises(world: World, env: FlowEnv, kind: type[Any]) -> None:
    key, seen = start(world, env)
    idp_rotates(world)

    def store_down(_: fx.Effect) -> None:
        raise StoreUnavailable("the store went away")

    if kind is fx.Save:  # a write of new tokens is retried a few times: fail them all

        def every_save(effect: fx.Effect) -> None:
            if isinstance(effect, fx.Save):
                store_down(effect)

        world.before.append(every_save)
    else:
        world.hook(kind, store_down)
    with pytest.raises(StoreUnavailable):
        world.run(refresh(env, key, seen))
    assert world.of_type(fx.AcquireLock)
    assert world.live_leases() == {}
    (release,) = world.of_type(fx.ReleaseLock)
    assert release.name == refresh_lock_name(key)


def test_a_failed_write_of_new_tokens_is_retried_with_them(world: World, env: FlowEnv) -> None:
    """The provider has rotated the refresh token: the new tokens exist only in this
    flow, so a store hiccup must not lose them."""
    key, seen = start(world, env)
    idp_rotates(world)

    def store_down(_: fx.Effect) -> None:
        raise StoreUnavailable("the store went away")

    failures = iter([True, True])

    def twice(effect: fx.Effect) -> None:
        if isinstance(effect, fx.Save) and next(failures, False):
            store_down(effect)

    world.before.append(twice)
    result = world.run(refresh(env, key, seen))
    assert result.outcome is RefreshOutcome.ROTATED
    stored = world.read_session(env, key)
    assert stored is not None
    assert stored.record.tokens.refresh_token != seen.record.tokens.refresh_token
    assert world.live_leases() == {}


# force -------------------------------------------------------------------------------------


def test_fresh_token_is_not_refreshed_without_force(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env, expires_in=3600.0)
    idp_rotates(world)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.ROTATED
    assert result.detail == "already fresh"
    assert world.token_calls() == []


def test_force_refreshes_a_fresh_token(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env, expires_in=3600.0)
    idp_rotates(world)
    result = run_refresh(world, env, key, seen, force=True)
    assert result.outcome is RefreshOutcome.ROTATED
    assert len(world.token_calls()) == 1
    assert result.loaded is not None
    assert result.loaded.record.tokens.access_token == "at-new-1"


def test_force_does_not_refresh_when_a_sibling_replaced_the_token(
    world: World, env: FlowEnv
) -> None:
    key, seen = start(world, env, expires_in=3600.0)
    idp_rotates(world)
    sibling_rotates(world, env, key)
    result = run_refresh(world, env, key, seen, force=True)
    assert result.outcome is RefreshOutcome.ROTATED
    assert result.loaded is not None
    assert result.loaded.record.tokens.access_token == "at-sib"
    assert world.token_calls() == []


def test_no_refresh_token_is_rejected_without_a_call(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env, refresh_token=None)
    idp_rotates(world)
    result = run_refresh(world, env, key, seen, force=True)
    assert result.outcome is RefreshOutcome.REJECTED
    assert world.token_calls() == []


# A slow or dying provider (issue: never present a refresh token twice) ---------------------


def test_a_refresh_waits_long_for_its_answer_with_its_lease_kept_alive(
    world: World, env: FlowEnv
) -> None:
    key, seen = start(world, env)
    idp_rotates(world)
    run_refresh(world, env, key, seen)
    (call,) = world.token_calls()
    assert call.timeout == env.config.refresh_timeout > env.config.http_timeout
    assert call.keep_lease is not None
    assert call.keep_lease.name == refresh_lock_name(key)
    assert call.keep_lease.owner == world.granted[0][1]


def test_an_answer_that_never_came_ends_the_session_instead_of_a_reuse(
    world: World, env: FlowEnv
) -> None:
    """The request may have reached the provider (a read timeout): the refresh token may
    be spent. It is never sent again; the session ends as refresh_lost, said in the log."""
    key, seen = start(world, env)
    idp_answers(world, fx.HttpFailure("timed out", sent=True))
    result = run_refresh(world, env, key, seen)
    assert result.outcome is RefreshOutcome.REJECTED
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.ended is EndReason.REFRESH_LOST
    assert len(world.token_calls()) == 1
    assert any(log.event == "refresh.lost" for log in world.logs)
    # Later requests do not try again with the old token.
    world.calls.clear()
    again = world.run(refresh(env, key, seen))
    assert again.outcome is RefreshOutcome.REJECTED
    assert world.token_calls() == []


def test_a_provider_other_than_configured_is_logged_as_a_configuration_fault(
    world: World, env: FlowEnv
) -> None:
    """https:// for a plain-http token endpoint: no retry can help until the configuration
    changes, so the log says so at ERROR (the session is kept: see
    test_unavailable_keeps_the_session_unchanged)."""
    key, seen = start(world, env)
    idp_answers(world, WRONG_SCHEME)
    assert run_refresh(world, env, key, seen).outcome is RefreshOutcome.UNAVAILABLE
    (log,) = [log for log in world.logs if log.event == "config.provider_mismatch"]
    assert log.level == logging.ERROR and "does not speak TLS" in log.message


@pytest.mark.parametrize(
    ("answer", "outcome", "log"),
    [
        (json_result(400, {"error": "invalid_grant"}), RefreshOutcome.REJECTED, None),
        (fx.HttpResult(400, b""), RefreshOutcome.REJECTED, None),
        (json_result(401, {"error": "invalid_client"}), RefreshOutcome.UNAVAILABLE, "config"),
        (json_result(400, {"error": "unauthorized_client"}), RefreshOutcome.UNAVAILABLE, "config"),
        (json_result(400, {"error": "temporarily_unavailable"}), RefreshOutcome.UNAVAILABLE, None),
        (fx.HttpResult(429, b""), RefreshOutcome.UNAVAILABLE, None),
        (fx.HttpResult(502, b"bad gateway"), RefreshOutcome.UNAVAILABLE, None),
    ],
    ids=[
        "invalid_grant",
        "bare-400",
        "invalid_client",
        "unauthorized_client",
        "temp",
        "429",
        "5xx",
    ],
)
def test_refresh_answers_are_classified_once(
    world: World,
    env: FlowEnv,
    answer: fx.HttpResult,
    outcome: RefreshOutcome,
    log: str | None,
) -> None:
    key, seen = start(world, env)
    idp_answers(world, answer)
    result = run_refresh(world, env, key, seen)
    assert result.outcome is outcome
    stored = world.read_session(env, key)
    assert stored is not None
    if outcome is RefreshOutcome.REJECTED:
        assert stored.record.ended is EndReason.REFRESH_REJECTED
    else:
        assert stored.record.ended is None  # kept: fixing the cause saves it
    if log == "config":
        errors = [e for e in world.logs if e.level == logging.ERROR]
        assert any(
            e.event == "refresh.config_error" and ("client_id", "app-client") in e.fields
            for e in errors
        ), errors


def test_expiry_follows_the_providers_clock(world: World, env: FlowEnv) -> None:
    """This host's clock is 90 s ahead of the provider's (more than ``clock_skew``): the
    stored expiry is the provider's (Date header + expires_in), and the skew is logged."""
    key, seen = start(world, env)
    provider_now = world.now - 90
    body = json_result(200, token_json("at-2", expires_in=600)).body
    idp_answers(world, fx.HttpResult(200, body, date=provider_now))
    result = run_refresh(world, env, key, seen)
    assert result.loaded is not None
    assert result.loaded.record.tokens.expires_at == provider_now + 600
    assert any(log.event == "clock.skew" for log in world.logs)


def test_a_jwt_access_tokens_own_exp_wins(world: World, env: FlowEnv) -> None:
    key, seen = start(world, env)
    jwt_token = mint_id_token(exp=int(world.now) + 120)
    idp_answers(world, json_result(200, token_json(jwt_token, expires_in=3600)))
    result = run_refresh(world, env, key, seen)
    assert result.loaded is not None
    assert result.loaded.record.tokens.expires_at == int(world.now) + 120


def test_the_answer_is_stored_before_the_id_token_is_checked(world: World, env: FlowEnv) -> None:
    """A worker that dies while checking the new ID token (JWKS fetch) loses nothing: the
    rotated tokens are already in the store."""
    key, seen = start(world, env)
    idp_answers(world, json_result(200, token_json("at-2", id_token=mint_id_token(nonce=DROP))))
    stored_before_check: list[str] = []

    def check_store(_: fx.Effect) -> None:
        current = world.read_session(env, key)
        assert current is not None
        stored_before_check.append(current.record.tokens.access_token)

    world.hook(fx.GetKeySet, check_store)
    run_refresh(world, env, key, seen)
    assert stored_before_check == ["at-2"]


def test_a_refreshed_id_token_without_sign_in_claims_keeps_them(world: World, env: FlowEnv) -> None:
    """ThunderID's refreshed ID token has no nonce, auth_time or acr: ``ctx.user`` keeps
    the sign-in's (what the session says about how the user signed in stays true), while
    the new token's claims win where it has them."""
    signed_in = {"sub": "user-1", "name": "Old", "auth_time": 1000, "acr": "mfa", "amr": ["pwd"]}
    key, seen = start(world, env, claims=signed_in)
    refreshed = mint_id_token(now=world.now, nonce=DROP, name="New", email="new@example.test")
    idp_rotates(world, id_token=refreshed)
    result = run_refresh(world, env, key, seen)
    assert result.loaded is not None
    claims = result.loaded.record.claims
    assert (claims["auth_time"], claims["acr"], claims["amr"]) == (1000, "mfa", ["pwd"])
    assert (claims["name"], claims["email"]) == ("New", "new@example.test")
    assert claims["iat"] == int(world.now) and "nonce" not in claims
    assert world.logs == []


def test_a_refreshed_id_token_cannot_change_the_sign_in_claims(world: World, env: FlowEnv) -> None:
    """auth_time, acr and amr describe the sign-in (OIDC Core 12.2): a refreshed ID token
    that sends other values does not rewrite them."""
    signed_in = {"sub": "user-1", "auth_time": 1000, "acr": "mfa", "amr": ["pwd", "otp"]}
    key, seen = start(world, env, claims=signed_in)
    refreshed = mint_id_token(now=world.now, auth_time=5000, acr="basic", amr=["pwd"], name="N")
    idp_rotates(world, id_token=refreshed)
    claims = run_refresh(world, env, key, seen).loaded.record.claims  # type: ignore[union-attr]
    assert (claims["auth_time"], claims["acr"], claims["amr"]) == (1000, "mfa", ["pwd", "otp"])
    assert claims["name"] == "N"


@pytest.mark.parametrize(
    "wrong", [{"iss": "https://other.example"}, {"aud": "other-client"}, {"sub": "user-2"}]
)
def test_a_refreshed_id_token_for_another_issuer_audience_or_subject_is_ignored(
    world: World, env: FlowEnv, wrong: dict[str, Any]
) -> None:
    """OIDC Core 12.2: same iss, sub and aud as the sign-in's, else the claims stay."""
    signed_in = {"sub": "user-1", "name": "Old", "auth_time": 1000}
    key, seen = start(world, env, claims=signed_in)
    idp_rotates(world, id_token=mint_id_token(now=world.now, name="Evil", **wrong))
    result = run_refresh(world, env, key, seen)
    assert result.loaded is not None
    assert result.loaded.record.claims == signed_in
    assert result.loaded.record.tokens.access_token == "at-new-1"  # the refresh stands
    assert world.logs
