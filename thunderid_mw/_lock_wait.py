"""Waiting for a lock inside one process, before asking the store for its lease: threads
(``LocalLocks``) or tasks (``AsyncLocalLocks``) that want the same lock queue here, so only
one of them at a time polls the store. Each lock is held by the flow that took it, named
by ``(name, owner)``, until that flow releases it."""

from __future__ import annotations

import asyncio
import threading
import weakref


class LocalLocks:
    """The in-process half of a lock, for threads."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._guard = threading.Lock()
        self._held: dict[tuple[str, str], threading.Lock] = {}

    def acquire(self, name: str, owner: str, wait: float) -> bool:
        """Take ``name`` for ``owner``, waiting at most ``wait`` seconds."""
        with self._guard:
            local = self._locks.get(name)
            if local is None:
                local = self._locks[name] = threading.Lock()
        if not local.acquire(timeout=max(wait, 0.0)):
            return False
        self._held[(name, owner)] = local
        return True

    def release(self, name: str, owner: str) -> None:
        """Let the next waiter in; nothing when ``owner`` does not hold ``name``."""
        local = self._held.pop((name, owner), None)
        if local is not None:
            local.release()


class AsyncLocalLocks:
    """The in-process half of a lock, for tasks of one event loop."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._held: dict[tuple[str, str], asyncio.Lock] = {}

    async def acquire(self, name: str, owner: str, wait: float) -> bool:
        """Take ``name`` for ``owner``, waiting at most ``wait`` seconds."""
        local = self._locks.get(name)
        if local is None:
            local = self._locks[name] = asyncio.Lock()
        try:
            # wait_for needs a positive timeout to try at all (0 would give up at once
            # even on a free lock).
            await asyncio.wait_for(local.acquire(), timeout=max(wait, 0.001))
        except TimeoutError:
            return False
        self._held[(name, owner)] = local
        return True

    def release(self, name: str, owner: str) -> None:
        """Let the next waiter in; nothing when ``owner`` does not hold ``name``."""
        local = self._held.pop((name, owner), None)
        if local is not None:
            local.release()
