"""The session store protocol.

A store keeps opaque byte records under string keys, each with a version and an absolute
expiry, plus short named locks (leases). The library derives every key from a session id
with a keyed hash, so a dump of a store never hands out live cookies; records arrive
already encrypted when a secret is configured. A store never interprets a record.

Rules every store follows:

* ``load`` returns ``None`` for a missing *or expired* record.
* ``save`` is compare-and-set: ``expected_version=None`` creates the record only if no live
  record exists under the key; otherwise the record is replaced only if its current version
  equals ``expected_version``. It returns the new version, or ``None`` when the condition
  failed (the caller lost a race and must re-read). Versions only grow.
* ``acquire_lock`` takes a lease named ``name`` for ``owner`` (a random token) that lapses
  after ``lease_seconds`` unless released; it returns ``False`` while another owner holds a
  live lease. ``release_lock`` releases only if ``owner`` still holds it (fencing: a holder
  whose lease lapsed and was taken over never releases the new holder's lock).
* Expired records and locks are removed by the store (lazily and/or periodically).
* Failures to reach the backing service raise ``StoreUnavailable``.

Every method has an async twin prefixed with ``a`` (``aload``, ``asave``, ...). Local stores
(memory, SQLite) answer in microseconds and implement the twins by calling the sync method
directly: a thread hop would cost more than the work.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._protocol_async import AsyncSessionStore as AsyncSessionStore
from ._protocol_sync import SyncSessionStore as SyncSessionStore
from .item import StoredItem as StoredItem


@runtime_checkable
class SessionStore(SyncSessionStore, AsyncSessionStore, Protocol):
    """What the middleware and client need from a session store (sync and async). The
    async half is hand-written in ``_protocol_async.py``; the sync half is generated."""


class LocalAsyncTwins:
    """The async twins of a local store (memory, SQLite): each calls its sync method
    directly. No thread hop: every call takes microseconds, far less than a hop."""

    async def aload(self: SyncSessionStore, key: str) -> StoredItem | None:
        return self.load(key)

    async def asave(
        self: SyncSessionStore,
        key: str,
        data: bytes,
        *,
        expires_at: float,
        expected_version: int | None,
    ) -> int | None:
        return self.save(key, data, expires_at=expires_at, expected_version=expected_version)

    async def adelete(self: SyncSessionStore, key: str) -> None:
        self.delete(key)

    async def aacquire_lock(
        self: SyncSessionStore, name: str, owner: str, lease_seconds: float
    ) -> bool:
        return self.acquire_lock(name, owner, lease_seconds)

    async def arelease_lock(self: SyncSessionStore, name: str, owner: str) -> bool:
        return self.release_lock(name, owner)

    async def aclose(self: SyncSessionStore) -> None:
        self.close()
