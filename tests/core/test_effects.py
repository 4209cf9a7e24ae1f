"""``effects.drive``, the one blocking trampoline (the blocking client and the fake world
share it), and ``effects.adrive``, its awaiting twin (the async client): the same loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from thunderid_mw.core import effects as fx


def _flow(log: list[str]) -> fx.Flow[float]:
    try:
        now: float = yield fx.Now()
        yield fx.Sleep(1)
        return now * 2
    finally:
        log.append("finally")


def run_with(trampoline: str, flow: fx.Flow[Any], perform: Callable[[fx.Effect], Any]) -> Any:
    """Run ``flow`` with ``drive``, or with ``adrive`` and ``perform`` awaited."""
    if trampoline == "drive":
        return fx.drive(flow, perform)

    async def aperform(effect: fx.Effect) -> Any:
        await asyncio.sleep(0)
        return perform(effect)

    return asyncio.run(fx.adrive(flow, aperform))


TRAMPOLINES = pytest.mark.parametrize("trampoline", ["drive", "adrive"])


@TRAMPOLINES
def test_drive_sends_results_and_returns_the_value(trampoline: str) -> None:
    log: list[str] = []
    performed: list[fx.Effect] = []

    def perform(effect: fx.Effect) -> Any:
        performed.append(effect)
        return 21.0 if isinstance(effect, fx.Now) else None

    assert run_with(trampoline, _flow(log), perform) == 42.0
    assert performed == [fx.Now(), fx.Sleep(1)] and log == ["finally"]


@TRAMPOLINES
def test_a_failing_effect_is_thrown_into_the_flow_so_finally_runs(trampoline: str) -> None:
    log: list[str] = []

    def perform(effect: fx.Effect) -> Any:
        raise LookupError("the store went away")

    with pytest.raises(LookupError, match="the store went away"):
        run_with(trampoline, _flow(log), perform)
    assert log == ["finally"]


def test_a_cancellation_reaches_the_flows_finally() -> None:
    log: list[str] = []

    def perform(effect: fx.Effect) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fx.drive(_flow(log), perform)
    assert log == ["finally"]


def test_max_steps_bounds_a_flow_that_never_ends() -> None:
    def forever() -> fx.Flow[None]:
        while True:
            yield fx.Now()

    with pytest.raises(RuntimeError, match="within 3 effects"):
        fx.drive(forever(), lambda effect: 0.0, max_steps=3)
