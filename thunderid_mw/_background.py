"""Work the clients start and do not wait for: a session's refresh ahead of its expiry, and
the renewal of a refresh lease while the provider takes its time. Threads for the blocking
client (``Background``, ``LeaseRenewal``), tasks for the async one (``AsyncBackground``,
``AsyncLeaseRenewal``); the client code that uses them is the same (scripts/unasync.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from logging import ERROR, WARNING
from typing import Any

from ._logging import log_event
from .core import effects as fx
from .core.errors import ThunderIDError
from .core.events import LOGGER_NAME, REFRESH_LEASE_LOST, STORE_UNAVAILABLE
from .stores.base import SessionStore

_logger = logging.getLogger(LOGGER_NAME)


class Background:
    """Jobs in daemon threads."""

    def spawn(self, name: str, job: Callable[[], None]) -> None:
        def run() -> None:
            try:
                job()
            except Exception:  # a background thread has nobody to raise to
                _logger.exception("the background job %s raised", name)

        threading.Thread(target=run, name=name, daemon=True).start()


class AsyncBackground:
    """Jobs as tasks of the running event loop (kept referenced until they finish)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, name: str, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def run() -> None:
            try:
                await job()
            except Exception:  # a background task has nobody to raise to
                _logger.exception("the background job %s raised", name)

        task = asyncio.get_running_loop().create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _renewal_failed(exc: ThunderIDError) -> None:
    log_event(WARNING, STORE_UNAVAILABLE, f"lease renewal failed: {exc}")


def _lease_lost() -> None:
    log_event(ERROR, REFRESH_LEASE_LOST, "the refresh lease was taken over")


class LeaseRenewal:
    """Renews ``hold`` every third of its length, in a thread, until ``stop``."""

    def __init__(self, store: SessionStore, hold: fx.LeaseHold) -> None:
        self._stop = threading.Event()

        def renew() -> None:
            while not self._stop.wait(hold.lease / 3):
                try:
                    if not store.acquire_lock(hold.name, hold.owner, hold.lease):
                        _lease_lost()
                        return
                except ThunderIDError as exc:
                    _renewal_failed(exc)

        threading.Thread(target=renew, name="thunderid-lease", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


class AsyncLeaseRenewal:
    """Renews ``hold`` every third of its length, in a task, until ``stop``."""

    def __init__(self, store: SessionStore, hold: fx.LeaseHold) -> None:
        async def renew() -> None:
            while True:
                await asyncio.sleep(hold.lease / 3)
                try:
                    if not await store.aacquire_lock(hold.name, hold.owner, hold.lease):
                        _lease_lost()
                        return
                except ThunderIDError as exc:
                    _renewal_failed(exc)

        self._task = asyncio.get_running_loop().create_task(renew(), name="thunderid-lease")

    def stop(self) -> None:
        self._task.cancel()
