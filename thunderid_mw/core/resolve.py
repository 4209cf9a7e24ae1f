"""A request's session, beyond the fast path: end it if its time is up, refresh its tokens
when due (single-flight), and record activity at most once per ``touch_interval``."""

from __future__ import annotations

from dataclasses import dataclass

from .config import ThunderIDConfig
from .effects import Flow, Now
from .env import FlowEnv, Loaded
from .refresh import end_record, refresh
from .session import EndReason
from .token_state import (
    AFTER_REFRESH_ACTION,
    REQUEST_ACTION,
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


def needs_slow_path(loaded: Loaded, now: float, config: ThunderIDConfig) -> bool:
    """False when the session can serve this request as it is (the hot path)."""
    record = loaded.record
    if record.ended is not None:
        return False
    return (
        now - record.last_seen >= config.touch_interval
        or now >= record.deadline(config.idle_timeout)
        or REQUEST_ACTION[classify(record, now, config.refresh_leeway)]
        is not RequestAction.CONTINUE
    )


def resolve(
    env: FlowEnv, key: str, loaded: Loaded, *, force_refresh: bool = False
) -> Flow[Resolved]:
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
    if action is RequestAction.REFRESH:
        result = yield from refresh(env, key, loaded, force=force_refresh)
        action = AFTER_REFRESH_ACTION[after_refresh(state, result.outcome)]
        if action is RequestAction.SIGNED_OUT:
            ended = result.loaded.record.ended if result.loaded else None
            return Resolved(None, ended or EndReason.REFRESH_REJECTED)
        if result.loaded is not None:
            loaded = result.loaded
        if action is RequestAction.FAIL_UNAVAILABLE:
            return Resolved(
                loaded, unavailable="The sign-in could not be renewed right now: " + result.detail
            )
    if now - loaded.record.last_seen >= config.touch_interval:
        touched = loaded.record.touched(now)
        version = yield from env.save(key, touched, loaded.version)
        if version is not None:  # a lost race means someone newer wrote: fine either way
            loaded = Loaded(touched, version)
    return Resolved(loaded)
