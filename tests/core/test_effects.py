"""``effects.drive``: the one blocking trampoline (clients and the fake world share it)."""

from __future__ import annotations

from typing import Any

import pytest

from thunderid_mw.core import effects as fx


def _flow(log: list[str]) -> fx.Flow[float]:
    try:
        now = yield fx.Now()
        yield fx.Sleep(1)
        return now * 2
    finally:
        log.append("finally")


def test_drive_sends_results_and_returns_the_value() -> None:
    log: list[str] = []
    performed: list[fx.Effect] = []

    def perform(effect: fx.Effect) -> Any:
        performed.append(effect)
        return 21.0 if isinstance(effect, fx.Now) else None

    assert fx.drive(_flow(log), perform) == 42.0
    assert performed == [fx.Now(), fx.Sleep(1)] and log == ["finally"]


def test_a_failing_effect_is_thrown_into_the_flow_so_finally_runs() -> None:
    log: list[str] = []

    def perform(effect: fx.Effect) -> Any:
        raise KeyboardInterrupt  # even a cancellation reaches the flow's finally

    with pytest.raises(KeyboardInterrupt):
        fx.drive(_flow(log), perform)
    assert log == ["finally"]


def test_max_steps_bounds_a_flow_that_never_ends() -> None:
    def forever() -> fx.Flow[None]:
        while True:
            yield fx.Now()

    with pytest.raises(RuntimeError, match="within 3 effects"):
        fx.drive(forever(), lambda effect: 0.0, max_steps=3)
