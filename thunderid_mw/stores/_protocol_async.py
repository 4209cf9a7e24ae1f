# Hand-written; scripts/unasync.py generates _protocol_sync.py.  # unasync: async only
"""The async half of the session-store protocol."""

from __future__ import annotations

from typing import Protocol

from .item import StoredItem


class AsyncSessionStore(Protocol):
    """The async half of ``SessionStore``."""

    async def aload(self, key: str) -> StoredItem | None: ...

    async def asave(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None: ...

    async def adelete(self, key: str) -> None: ...

    async def aacquire_lock(self, name: str, owner: str, lease_seconds: float) -> bool: ...

    async def arelease_lock(self, name: str, owner: str) -> bool: ...

    async def aclose(self) -> None: ...
