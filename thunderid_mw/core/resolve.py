"""A request's session, beyond the fast path: end it if its time is up, refresh its tokens
when due (single-flight), and record activity at most once per ``touch_interval``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import ThunderIDConfig
from .effects import Flow, Now
from .env import FlowEnv, Loaded
from .refresh import RefreshResult, end_record, refresh
from .session import EndReason, SessionRecord
from .token_state import (
    AFTER_REFRESH_ACTION,
    REQUEST_ACTION,
    RefreshOutcome,
    RequestAction,
    after_refresh,
    classify,
)


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
        # classify(): FRESH ends at expiry minus the leeway when a refresh is possible.
        leeway = config.refresh_leeway if record.tokens.refresh_token is not None else 0.0
        until = min(until, expires_at - leeway)
    return until


def resolve(
    env: FlowEnv,
    key: str,
    loaded: Loaded,
    *,
    force_refresh: bool = False,
    retry_not_before: float = 0.0,
) -> Flow[Resolved]:
    """``retry_not_before``: a refresh of this session failed recently; until then a due
    refresh counts as unavailable without calling the provider again (no hammering of a
    struggling IdP, and no queue of waiters each retrying in turn)."""
    config = env.config
    now = yield Now()
    record = loaded.record
    if record.ended is not None:
        return Resolved(None, record.ended)
    if now >= record.deadline(config.idle_timeout):
        yield from end_record(env, key, loaded, EndReason.EXPIRED)
        return Resolved(None, EndReason.EXPIRED)
    state = classify(record, now, config.refresh_leeway)
    action = RequestAction.REFRESH if force_refresh else REQUEST_ACTION[state]
    if action is RequestAction.SIGNED_OUT:
        yield from end_record(env, key, loaded, EndReason.EXPIRED)
        return Resolved(None, EndReason.EXPIRED)
    failed = False
    if action is RequestAction.REFRESH:
        if not force_refresh and now < retry_not_before:
            result = RefreshResult(
                RefreshOutcome.UNAVAILABLE, loaded, "the identity provider failed moments ago"
            )
        else:
            result = yield from refresh(env, key, loaded, force=force_refresh)
            failed = result.outcome is RefreshOutcome.UNAVAILABLE
        action = AFTER_REFRESH_ACTION[after_refresh(state, result.outcome)]
        if action is RequestAction.SIGNED_OUT:
            ended = result.loaded.record.ended if result.loaded else None
            return Resolved(None, ended or EndReason.REFRESH_REJECTED)
        if result.loaded is not None:
            loaded = result.loaded
        if action is RequestAction.FAIL_UNAVAILABLE:
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
