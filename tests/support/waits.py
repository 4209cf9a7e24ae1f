"""Bounded waits for tests that need a token to expire (never a timing assertion)."""

from __future__ import annotations

import asyncio
import time

MAX_WAIT = 20.0  # upper bound of any wait for a token to expire


def _delay(moment: float, margin: float) -> float:
    delay = moment + margin - time.time()
    assert delay < MAX_WAIT, f"refusing to wait {delay:.1f} s"
    return delay


def sleep_until(moment: float, margin: float = 0.1) -> None:
    """Sleep until the wall clock passes ``moment`` (plus ``margin``), at most MAX_WAIT."""
    if (delay := _delay(moment, margin)) > 0:
        time.sleep(delay)


async def asleep_until(moment: float, margin: float = 0.1) -> None:
    if (delay := _delay(moment, margin)) > 0:
        await asyncio.sleep(delay)
