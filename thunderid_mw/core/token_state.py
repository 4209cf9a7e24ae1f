"""The token state machine of a session, written down as data.

States (``TokenState``) are derived from a record and the time; a refresh attempt ends in
one ``RefreshOutcome``; ``TRANSITIONS`` says where each outcome leads and is the only place
that rule lives. ``REQUEST_ACTION`` says what a request does in each state.
"""

from __future__ import annotations

from enum import Enum

from .session import SessionRecord


class TokenState(Enum):
    FRESH = "fresh"  # access token valid beyond the leeway
    REFRESH_DUE = "refresh_due"  # still valid, expires within the leeway
    EXPIRED = "expired"  # access token expired, a refresh token may save it
    ENDED = "ended"  # no usable session


class RefreshOutcome(Enum):
    ROTATED = "rotated"  # we (or a sibling) obtained new tokens
    REJECTED = "rejected"  # invalid_grant confirmed against the stored session
    UNAVAILABLE = "unavailable"  # IdP down/5xx, or waiting for a sibling timed out


class RequestAction(Enum):
    CONTINUE = "continue"  # use the tokens as they are
    REFRESH = "refresh"  # refresh first (single-flight)
    FAIL_UNAVAILABLE = "fail_unavailable"  # 503 with Retry-After
    SIGNED_OUT = "signed_out"  # treat the request as signed out


TRANSITIONS: dict[tuple[TokenState, RefreshOutcome], TokenState] = {
    (TokenState.REFRESH_DUE, RefreshOutcome.ROTATED): TokenState.FRESH,
    (TokenState.EXPIRED, RefreshOutcome.ROTATED): TokenState.FRESH,
    (TokenState.FRESH, RefreshOutcome.ROTATED): TokenState.FRESH,
    (TokenState.REFRESH_DUE, RefreshOutcome.REJECTED): TokenState.ENDED,
    (TokenState.EXPIRED, RefreshOutcome.REJECTED): TokenState.ENDED,
    (TokenState.FRESH, RefreshOutcome.REJECTED): TokenState.ENDED,
    # A token that is still valid keeps serving while the IdP is away.
    (TokenState.REFRESH_DUE, RefreshOutcome.UNAVAILABLE): TokenState.REFRESH_DUE,
    (TokenState.FRESH, RefreshOutcome.UNAVAILABLE): TokenState.FRESH,
    (TokenState.EXPIRED, RefreshOutcome.UNAVAILABLE): TokenState.EXPIRED,
}

REQUEST_ACTION: dict[TokenState, RequestAction] = {
    TokenState.FRESH: RequestAction.CONTINUE,
    TokenState.REFRESH_DUE: RequestAction.REFRESH,
    TokenState.EXPIRED: RequestAction.REFRESH,
    TokenState.ENDED: RequestAction.SIGNED_OUT,
}

# What a request does once a refresh attempt has ended in a state.
AFTER_REFRESH_ACTION: dict[TokenState, RequestAction] = {
    TokenState.FRESH: RequestAction.CONTINUE,
    TokenState.REFRESH_DUE: RequestAction.CONTINUE,
    TokenState.EXPIRED: RequestAction.FAIL_UNAVAILABLE,
    TokenState.ENDED: RequestAction.SIGNED_OUT,
}


class IllegalTransition(Exception):
    pass


def classify(record: SessionRecord, now: float, leeway: float) -> TokenState:
    """The state of ``record``'s tokens at ``now``."""
    if record.ended is not None:
        return TokenState.ENDED
    expires_at = record.tokens.expires_at
    if expires_at is None or now + leeway < expires_at:
        return TokenState.FRESH
    can_refresh = record.tokens.refresh_token is not None
    if now < expires_at:
        return TokenState.REFRESH_DUE if can_refresh else TokenState.FRESH
    return TokenState.EXPIRED if can_refresh else TokenState.ENDED


def after_refresh(state: TokenState, outcome: RefreshOutcome) -> TokenState:
    try:
        return TRANSITIONS[(state, outcome)]
    except KeyError:
        raise IllegalTransition(f"{outcome.value} cannot happen in state {state.value}") from None
