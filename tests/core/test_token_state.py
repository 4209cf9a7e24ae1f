"""The token state machine: classify, every transition, and the illegal ones."""

from __future__ import annotations

import itertools

import pytest

from thunderid_mw.core.session import EndReason
from thunderid_mw.core.token_state import (
    AFTER_REFRESH_ACTION,
    REQUEST_ACTION,
    TRANSITIONS,
    IllegalTransition,
    RefreshOutcome,
    RequestAction,
    TokenState,
    after_refresh,
    classify,
)

from .driver import T0, make_record

LEEWAY = 60.0


@pytest.mark.parametrize(
    ("expires_in", "refresh_token", "expected"),
    [
        (3600.0, "rt", TokenState.FRESH),
        (LEEWAY + 1, "rt", TokenState.FRESH),
        (LEEWAY, "rt", TokenState.REFRESH_DUE),  # exactly at the leeway
        (30.0, "rt", TokenState.REFRESH_DUE),
        (0.5, "rt", TokenState.REFRESH_DUE),
        (0.0, "rt", TokenState.EXPIRED),
        (-10.0, "rt", TokenState.EXPIRED),
        # Without a refresh token nothing can be done early; expired means ended.
        (30.0, None, TokenState.FRESH),
        (0.0, None, TokenState.ENDED),
        (-10.0, None, TokenState.ENDED),
    ],
)
def test_classify(expires_in: float, refresh_token: str | None, expected: TokenState) -> None:
    record = make_record(T0, expires_in=expires_in, refresh_token=refresh_token)
    assert classify(record, T0, LEEWAY) is expected


def test_classify_without_expiry_is_fresh() -> None:
    record = make_record(T0)
    record = record.with_tokens(record.tokens.__class__(access_token="at", expires_at=None))
    assert classify(record, T0 + 10**9, LEEWAY) is TokenState.FRESH


@pytest.mark.parametrize("reason", list(EndReason))
def test_classify_tombstone_is_ended(reason: EndReason) -> None:
    assert classify(make_record(T0).tombstone(reason), T0, LEEWAY) is TokenState.ENDED


EXPECTED_TRANSITIONS = {
    (TokenState.FRESH, RefreshOutcome.ROTATED): TokenState.FRESH,
    (TokenState.REFRESH_DUE, RefreshOutcome.ROTATED): TokenState.FRESH,
    (TokenState.EXPIRED, RefreshOutcome.ROTATED): TokenState.FRESH,
    (TokenState.FRESH, RefreshOutcome.REJECTED): TokenState.ENDED,
    (TokenState.REFRESH_DUE, RefreshOutcome.REJECTED): TokenState.ENDED,
    (TokenState.EXPIRED, RefreshOutcome.REJECTED): TokenState.ENDED,
    (TokenState.FRESH, RefreshOutcome.UNAVAILABLE): TokenState.FRESH,
    (TokenState.REFRESH_DUE, RefreshOutcome.UNAVAILABLE): TokenState.REFRESH_DUE,
    (TokenState.EXPIRED, RefreshOutcome.UNAVAILABLE): TokenState.EXPIRED,
}


@pytest.mark.parametrize(("pair", "target"), EXPECTED_TRANSITIONS.items())
def test_every_transition(pair: tuple[TokenState, RefreshOutcome], target: TokenState) -> None:
    assert after_refresh(*pair) is target


def test_transition_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(
    "pair",
    [p for p in itertools.product(TokenState, RefreshOutcome) if p not in EXPECTED_TRANSITIONS],
)
def test_illegal_transition(pair: tuple[TokenState, RefreshOutcome]) -> None:
    with pytest.raises(IllegalTransition, match=pair[1].value):
        after_refresh(*pair)


def test_request_actions() -> None:
    assert REQUEST_ACTION == {
        TokenState.FRESH: RequestAction.CONTINUE,
        TokenState.REFRESH_DUE: RequestAction.REFRESH,
        TokenState.EXPIRED: RequestAction.REFRESH,
        TokenState.ENDED: RequestAction.SIGNED_OUT,
    }
    # After a refresh attempt: a still-valid token serves; an expired one means 503.
    assert AFTER_REFRESH_ACTION[TokenState.REFRESH_DUE] is RequestAction.CONTINUE
    assert AFTER_REFRESH_ACTION[TokenState.EXPIRED] is RequestAction.FAIL_UNAVAILABLE
    assert AFTER_REFRESH_ACTION[TokenState.ENDED] is RequestAction.SIGNED_OUT
    assert set(AFTER_REFRESH_ACTION) == set(TokenState)


@pytest.mark.parametrize(
    ("changes", "deadline"),
    [
        ({}, T0 + 100.0),  # idle limit
        ({"absolute_expires_at": T0 + 50.0}, T0 + 50.0),
        ({"refresh_expires_at": T0 + 20.0}, T0 + 20.0),
        ({"refresh_token": None, "expires_in": 10.0}, T0 + 10.0),
    ],
)
def test_session_deadline_is_the_earliest_limit(changes: dict[str, float], deadline: float) -> None:
    record = make_record(T0, **changes)  # type: ignore[arg-type]
    assert record.deadline(idle_timeout=100.0) == deadline
