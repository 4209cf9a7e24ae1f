"""Where log effects and the adapters' own log lines are written: the ``thunderid_mw``
logger, one readable line per event plus ``extra={"event", "event_fields"}`` for
structured handlers (event names: core/events.py)."""

from __future__ import annotations

import logging

from .core import effects as fx
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
