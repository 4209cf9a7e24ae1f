"""Where log effects and the adapters' own log lines are written: the ``thunderid_mw``
logger, one readable line per event plus ``extra={"event", "event_fields"}`` for
structured handlers (event names: core/events.py)."""

from __future__ import annotations

import logging

from .core import effects as fx
from .core import events
from .core.errors import RefreshUnavailable, StoreUnavailable
from .core.events import LOGGER_NAME, render

logger = logging.getLogger(LOGGER_NAME)


def emit(log: fx.Log) -> None:
    """Write one log effect."""
    logger.log(
        log.level, "%s", render(log.event, log.message, log.fields), extra=log.logging_extra()
    )


def log_event(level: int, event: str, message: str, **fields: str) -> None:
    """Log outside a flow (start-up, stores, adapters) the same way a flow does."""
    emit(fx.Log(level, message, event, tuple(fields.items())))


def log_unavailable(exc: Exception) -> None:
    """A request answered 503/502 because the store or the provider is away (the lazy
    failure after a good start-up check)."""
    if isinstance(exc, StoreUnavailable):
        event = events.STORE_UNAVAILABLE
    elif isinstance(exc, RefreshUnavailable):
        event = events.REFRESH_UNAVAILABLE
    else:
        event = events.PROVIDER_UNREACHABLE
    log_event(logging.WARNING, event, str(exc))
