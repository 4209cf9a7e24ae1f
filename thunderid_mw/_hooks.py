"""How the clients call the app's hooks (core/hooks.py): plain or ``async`` callables,
from blocking code or from an event loop."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


async def acall_hook(hook: Callable[[Any], Any], event: object) -> None:
    """On an event loop: an ``async`` hook is awaited; a plain one runs in a worker thread
    (it may block, e.g. on a database), and an awaitable it returns is awaited."""
    if inspect.iscoroutinefunction(hook):
        await hook(event)
        return
    result = await asyncio.to_thread(hook, event)
    if inspect.isawaitable(result):
        await result


def call_hook(hook: Callable[[Any], Any], event: object) -> None:
    """In blocking code (WSGI): a plain hook is called; an ``async`` one is run to its end
    on an event loop of its own."""
    result = hook(event)
    if inspect.isawaitable(result):
        asyncio.run(_awaited(result))


async def _awaited(awaitable: Awaitable[Any]) -> None:
    await awaitable
