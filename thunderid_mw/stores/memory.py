"""An in-process session store: a dict guarded by a lock.

Good for tests, development and single-process servers. Records live only as long as the
process, and every worker process of a server has its own: use ``SQLiteStore`` (one host)
or ``RedisStore`` (several hosts) when a server runs more than one process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from time import time

from .base import LocalAsyncTwins, StoredItem

__all__ = ["MemoryStore"]

#: Items examined by the sweep on each write (bounds the work a write does).
_SWEEP_BATCH = 64


class MemoryStore(LocalAsyncTwins):
    """Keep session records in a dict of this process.

    ``load`` is a lock-free dict lookup (atomic under the GIL); writes, compare-and-set and
    locks take a ``threading.Lock``. Expired records are dropped when ``load`` meets them and
    by an incremental sweep that examines a few records on every write, restarting at most
    every ``sweep_interval`` seconds; ``purge_expired`` sweeps everything at once.

    :param max_items: Keep at most this many records. When a new record would exceed it,
        expired records are purged and then the least recently written record is evicted
        (its user is signed out). ``None`` means no limit.
    :param sweep_interval: Seconds between the starts of two sweep cycles.
    """

    def __init__(self, max_items: int | None = None, *, sweep_interval: float = 60.0) -> None:
        if max_items is not None and max_items < 1:
            raise ValueError("max_items must be a positive integer or None")
        self.max_items = max_items
        self.sweep_interval = sweep_interval
        self._data: OrderedDict[str, StoredItem] = OrderedDict()
        self._locks: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        # Versions come from one counter per store, so they grow even across a delete and
        # a re-create of the same key (no ABA on compare-and-set).
        self._last_version = int(time() * 1_000_000)
        self._sweep_keys: list[str] = []
        self._sweep_pos = 0
        self._next_cycle = time() + sweep_interval

    # -- sync API ----------------------------------------------------------------------

    def load(self, key: str) -> StoredItem | None:
        """Return the live record stored under ``key``, or ``None``."""
        item = self._data.get(key)
        if item is None:
            return None
        if item.expires_at > time():
            return item
        self._drop_if_same(key, item)
        return None

    def save(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None:
        """Create (``expected_version=None``) or compare-and-set the record under ``key``.

        Returns the new version, or ``None`` when the condition failed.
        """
        now = time()
        with self._lock:
            current = self._data.get(key)
            live = current is not None and current.expires_at > now
            if expected_version is None:
                if live:
                    return None
            elif not live or current is None or current.version != expected_version:
                return None
            self._last_version = version = max(self._last_version + 1, int(now * 1_000_000))
            if current is None and self.max_items is not None and len(self._data) >= self.max_items:
                self._make_room(now)
            # One atomic replacement: a lock-free load sees the old or the new record,
            # never a gap. Then keep the dict in write order (for eviction).
            self._data[key] = StoredItem(bytes(data), version, expires_at)
            self._data.move_to_end(key)
            self._sweep_step(now)
            return version

    def delete(self, key: str) -> None:
        """Remove the record under ``key`` (no error if there is none)."""
        with self._lock:
            self._data.pop(key, None)

    def acquire_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease ``name`` for ``owner`` unless another live lease holds it (the
        owner that holds it renews it)."""
        now = time()
        with self._lock:
            held = self._locks.get(name)
            if held is not None and held[1] > now and held[0] != owner:
                return False
            self._locks[name] = (owner, now + lease_seconds)
            return True

    def release_lock(self, name: str, owner: str) -> bool:
        """Release the lease ``name`` if ``owner`` still holds it; return whether it did."""
        now = time()
        with self._lock:
            held = self._locks.get(name)
            if held is None or held[0] != owner:
                return False
            del self._locks[name]
            return held[1] > now

    def close(self) -> None:
        """Nothing to release; records stay until the store is garbage-collected."""

    def purge_expired(self) -> int:
        """Remove every expired record and lease now; return how many records went."""
        now = time()
        with self._lock:
            dead = [k for k, item in self._data.items() if item.expires_at <= now]
            for k in dead:
                del self._data[k]
            self._purge_locks(now)
            return len(dead)

    def __len__(self) -> int:
        """The number of records held, expired ones not yet removed included."""
        return len(self._data)

    # -- internals (callers hold self._lock unless noted) -------------------------------

    def _drop_if_same(self, key: str, item: StoredItem) -> None:
        # Called without the lock: only remove the expired item we saw, never a record a
        # concurrent save put in its place.
        with self._lock:
            if self._data.get(key) is item:
                del self._data[key]

    def _make_room(self, now: float) -> None:
        assert self.max_items is not None
        dead = [k for k, item in self._data.items() if item.expires_at <= now]
        for k in dead:
            del self._data[k]
        while len(self._data) >= self.max_items:
            self._data.popitem(last=False)  # the least recently written

    def _purge_locks(self, now: float) -> None:
        dead = [name for name, (_, exp) in self._locks.items() if exp <= now]
        for name in dead:
            del self._locks[name]

    def _sweep_step(self, now: float) -> None:
        # One bounded step of a sweep over a snapshot of the keys taken at the start of a
        # cycle: a full pass costs O(n) in total, spread over n / _SWEEP_BATCH writes.
        if self._sweep_pos >= len(self._sweep_keys):
            if now < self._next_cycle:
                return
            self._next_cycle = now + self.sweep_interval
            self._sweep_keys = list(self._data)
            self._sweep_pos = 0
            self._purge_locks(now)
        start = self._sweep_pos
        self._sweep_pos = start + _SWEEP_BATCH
        data = self._data
        for k in self._sweep_keys[start : self._sweep_pos]:
            item = data.get(k)
            if item is not None and item.expires_at <= now:
                del data[k]
        if self._sweep_pos >= len(self._sweep_keys):
            self._sweep_keys = []
            self._sweep_pos = 0
