"""A request's session, beyond the fast path: end it if its time is up, refresh its tokens
when due (single-flight), and record activity at most once per ``touch_interval``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import ThunderIDConfig
from .effects import Flow, Now, StartRefresh
from .env import FlowEnv, Loaded
from .refresh import RefreshResult, await_refresh, end_record, refresh
from .session import EndReason, SessionRecord
from .token_state import (
    AFTER_REFRESH_ACTION,
    REQUEST_ACTION,
    RefreshOutcome,
    RequestAction,
    TokenState,
    after_refresh,
    classify,
)

# A token this close to its expiry is not handed to an app after a wait: it would expire
# on its way to the API.
EXPIRY_MARGIN = 0.5


@dataclass(frozen=True, slots=True)
class Resolved:
    """``loaded`` is a live session (None: signed out, ``ended`` says why if known);
    ``unavailable`` is set when the request must get a 503 (tokens expired, IdP away)."""

    loaded: Loaded | None
    ended: EndReason | None = None
    unavailable: str | None = None
    refresh_failed: bool = False  # a refresh was attempted and the provider failed


def usable_until(record: SessionRecord, config: ThunderIDConfig) -> float:
    """Until when ``record`` serves requests as it is (the hot path): before the next touch
    is due, before the session's deadline, and while the access token is fresh. After that
    a request takes the slow path (``resolve``). An ended record never changes."""
    if record.ended is not None:
        return math.inf
    until = min(record.last_seen + config.touch_interval, record.deadline(config.idle_timeout))
    expires_at = record.tokens.expires_at
    if expires_at is not None:
        # classify(): FRESH ends at expiry minus the leeway when a refresh is possible;
        # no token is served within EXPIRY_MARGIN of its expiry.
        leeway = config.refresh_leeway if record.tokens.refresh_token is not None else 0.0
        until = min(until, expires_at - max(leeway, EXPIRY_MARGIN))
    return until


def resolve(
    env: FlowEnv,
    key: str,
    loaded: Loaded,
    *,
    force_refresh: bool = False,
    retry_not_before: float = 0.0,
) -> Flow[Resolved]:
    """A request's session beyond the fast path. Refreshes run in the background (one per
    session across every worker): a request whose access token is still valid goes on
    with it at once; only a request whose token has expired (or that forces a refresh)
    waits, at most ``refresh_wait_timeout``, and never gets an expired token.

    ``retry_not_before``: a refresh of this session failed recently in this process; until
    then no new one is started (no hammering of a struggling IdP)."""
    config = env.config
    now = yield Now()
    record = loaded.record
    if record.ended is not None:
        return Resolved(None, record.ended)
    if now >= record.deadline(config.idle_timeout):
        yield from end_record(env, key, loaded, EndReason.EXPIRED)
        return Resolved(None, EndReason.EXPIRED)
    state = classify(record, now, config.refresh_leeway)
    if state is TokenState.REFRESH_DUE and _expired(loaded, now):
        state = TokenState.EXPIRED  # too close to expiry to hand out: wait for the new one
    action = RequestAction.REFRESH if force_refresh else REQUEST_ACTION[state]
    if state is TokenState.FRESH and record.tokens.refresh_token is None and _expired(loaded, now):
        action = RequestAction.SIGNED_OUT  # nothing can renew it, and it is about to expire
    if action is RequestAction.SIGNED_OUT:
        yield from end_record(env, key, loaded, EndReason.EXPIRED)
        return Resolved(None, EndReason.EXPIRED)
    failed = False
    if action is RequestAction.REFRESH:
        recently_failed = not force_refresh and now < retry_not_before
        if not recently_failed:
            yield StartRefresh(key, force_refresh)
        if state is TokenState.REFRESH_DUE and not force_refresh:
            pass  # the token is still valid: go on with it while the refresh runs
        elif recently_failed:
            return Resolved(
                loaded,
                unavailable="The sign-in could not be renewed right now: "
                "the identity provider failed moments ago",
            )
        else:
            result = yield from await_refresh(env, key, loaded, force=force_refresh)
            failed = result.outcome is RefreshOutcome.UNAVAILABLE
            action = AFTER_REFRESH_ACTION[after_refresh(state, result.outcome)]
            if action is RequestAction.SIGNED_OUT:
                ended = result.loaded.record.ended if result.loaded else None
                return Resolved(None, ended or EndReason.REFRESH_REJECTED)
            if result.loaded is not None:
                loaded = result.loaded
            now = yield Now()
            if action is RequestAction.FAIL_UNAVAILABLE or _expired(loaded, now):
                # Decided on the clock after the wait: never hand out an expired token.
                return Resolved(
                    loaded,
                    unavailable="The sign-in could not be renewed right now: " + result.detail,
                    refresh_failed=failed,
                )
    if now - loaded.record.last_seen >= config.touch_interval:
        touched = loaded.record.touched(now)
        version = yield from env.save(key, touched, loaded.version)
        if version is not None:  # a lost race means someone newer wrote: fine either way
            loaded = Loaded(touched, version)
    return Resolved(loaded, refresh_failed=failed)


def refresh_job(env: FlowEnv, key: str, force: bool) -> Flow[RefreshResult | None]:
    """The background refresh of session ``key`` (``StartRefresh``): one attempt. While
    another worker holds the session's refresh lease it waits (long enough to outlast the
    lease of a worker that died holding it) and takes the sibling's result if one comes."""
    loaded = yield from env.load(key)
    if loaded is None or loaded.record.ended is not None:
        return None
    wait = env.config.effective_lock_lease + env.config.refresh_wait_timeout
    return (yield from refresh(env, key, loaded, force=force, lock_wait=wait))


def _expired(loaded: Loaded, now: float) -> bool:
    expires_at = loaded.record.tokens.expires_at
    return expires_at is not None and now >= expires_at - EXPIRY_MARGIN
