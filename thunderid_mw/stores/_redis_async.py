"""One half of ``RedisStore``: the store protocol's async methods. ``_redis_sync.py`` is
generated from ``_redis_async.py`` by scripts/unasync.py (edit ``_redis_async.py``, then
run ``python scripts/unasync.py``)."""

from __future__ import annotations

from typing import Any, cast

from redis.exceptions import RedisError

from ._redis_base import FIELDS, RedisBase, item_of, lease_ms, save_args
from .base import StoredItem


class AsyncRedisOps(RedisBase):
    """The store protocol's async methods (one round trip each; none for a read the
    client cache answers)."""

    async def aload(self, key: str) -> StoredItem | None:
        """Return the live record stored under ``key``, or ``None``."""
        skey = self._skey(key)
        cache = self._cache
        item = None if cache is None else cache.get(skey)
        if item is not None:
            return item
        # Taken before the read: a reply that crosses an invalidation is not kept.
        ticket = None if cache is None else cache.ticket()
        try:
            fields = await self._async_bundle().client.hmget(skey, FIELDS)
        except (RedisError, OSError) as exc:
            self._fail(exc)
        item = item_of(cast(list[Any], fields))
        if cache is not None and ticket is not None and item is not None:
            cache.put(skey, item, ticket)
        return item

    async def asave(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None:
        """Create (``expected_version=None``) or compare-and-set the record under ``key``.

        Returns the new version, or ``None`` when the condition failed.
        """
        version, args = save_args(data, expires_at, expected_version)
        skey = self._skey(key)
        self._forget(skey)
        try:
            ok = await self._async_bundle().save(keys=[skey], args=args)
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return version if ok else None

    async def adelete(self, key: str) -> None:
        """Remove the record under ``key`` (no error if there is none)."""
        skey = self._skey(key)
        self._forget(skey)
        try:
            await self._async_bundle().client.delete(skey)
        except (RedisError, OSError) as exc:
            self._fail(exc)

    async def aacquire_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease ``name`` for ``owner`` unless another live lease holds it (the
        owner that holds it renews it)."""
        try:
            ok = await self._async_bundle().acquire(
                keys=[self._lkey(name)], args=[owner, lease_ms(lease_seconds)]
            )
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return bool(ok)

    async def arelease_lock(self, name: str, owner: str) -> bool:
        """Release the lease ``name`` if ``owner`` still holds it; return whether it did."""
        try:
            n = await self._async_bundle().release(keys=[self._lkey(name)], args=[owner])
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return bool(n)
