"""A session store in Redis (or Valkey), shared by every process of every host.

Needs redis-py: ``pip install 'thunderid-mw[redis]'``.

Layout, under a ``prefix`` (default ``"thunderid:"``):

* ``{prefix}s:{key}`` -- a hash ``{v: version, d: data, e: expires_at}`` that Redis expires
  at ``expires_at`` (``PEXPIREAT``), so expired records need no sweep;
* ``{prefix}l:{name}`` -- a string holding the owner of a lease, with the lease as its TTL.

Compare-and-set and fenced release run as Lua scripts (``EVALSHA``, loaded on demand), so
each operation is one round trip and atomic on the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import RedisError

from ._redis_async import AsyncRedisOps
from ._redis_base import RedisPersistence, cluster_url, sentinel_target, text_dict
from ._redis_cache import InvalidatedCache
from ._redis_sync import RedisOps

__all__ = ["RedisPersistence", "RedisStore", "sentinel_target"]


class RedisStore(RedisOps, AsyncRedisOps):
    """Keep session records in Redis or Valkey.

    The clients are created on first use from ``url``: a ``redis.Redis`` for the sync
    methods and, for the async ones, one ``redis.asyncio.Redis`` per running event loop
    (an asyncio connection belongs to the loop that opened it). Call :meth:`aclose` from
    each event loop that used the store before that loop ends; clients of loops that have
    closed are dropped.

    Every failure to talk to the server (refused, reset, timed out, loading, read-only
    replica, out of memory, ...) raises ``StoreUnavailable`` with the redis-py error as
    its cause. A command that gets no answer within ``socket_timeout`` fails; a broken
    connection is retried once, at once.

    :param url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS) or
        ``unix:///path/to/socket[?db=N]``; query parameters are redis-py's.
    :param prefix: Put before every key, to share a database with other applications.
    :param socket_timeout: Seconds to wait to connect and for each answer.
    :param client: A ready ``redis.Redis`` to use instead (``decode_responses=False``).
        The store does not close it.
    :param async_client: A ready ``redis.asyncio.Redis`` to use instead. It serves every
        event loop, so use the store's async methods from one loop only. The store does not
        close it.
    :param client_cache: Keep session reads (sync and async methods: WSGI and ASGI) in
        this process, dropped by Redis's own invalidation messages (``CLIENT TRACKING ...
        BCAST`` on a connection subscribed to ``__redis__:invalidate``, listened to by a
        thread that serves every event loop and is started anew in a forked worker), so a
        signed-in request costs no round trip while its session is unchanged. A single
        server only (``redis://``, ``rediss://``, ``unix://``). A change made by any host
        is seen as soon as its invalidation arrives; losing the listening connection drops
        the whole local cache (a silent network cut is noticed within ``socket_timeout`` +
        0.25 s).
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", **options: Any) -> None:
        client_cache = bool(options.pop("client_cache", False))
        super().__init__(url, **options)
        if client_cache:
            if cluster_url(url) or sentinel_target(url):
                raise ValueError("client_cache needs a single Redis server (redis://, rediss://)")
            if self._sync is not None or self._fixed_async is not None:
                raise ValueError("client_cache needs the store to make its own client")
            self._cache = InvalidatedCache(url, self._skey(""), self.socket_timeout)

    def close(self) -> None:
        """Close the sync client's connections (if the store made the client) and stop
        listening for invalidations (the client cache serves nothing after this).

        Async clients of event loops that have closed are dropped too; use :meth:`aclose`
        for the current loop's.
        """
        if self._cache is not None:
            self._cache.close()
        with self._lock:
            self._prune_async()
            bundle = self._sync
            if bundle is None or not bundle.owned:
                return
            self._sync = None
        bundle.client.close()

    def purge_expired(self) -> int:
        """Return 0: Redis removes expired records and leases by itself."""
        return 0

    def persistence(self) -> RedisPersistence:
        """What a restart of the server would keep (``thunderid-mw doctor`` reports it).

        ``INFO persistence`` tells whether the append-only file is on; ``CONFIG GET`` (often
        refused by managed Redis) adds the fsync policy and the snapshot schedule when it
        is allowed."""
        client = self._sync_bundle().client
        try:
            info = client.info("persistence")
        except RedisError as exc:
            self._fail(exc)
        config: dict[str, str] = {}
        try:
            for name in ("appendfsync", "save"):
                config.update(text_dict(client.config_get(name)))
        except RedisError:
            pass  # CONFIG is disabled or not permitted: what INFO said has to do
        return RedisPersistence(
            aof=bool(int(info.get("aof_enabled", 0))),
            appendfsync=config.get("appendfsync"),
            snapshots=config.get("save"),
        )

    async def aclose(self) -> None:
        """Close the current event loop's async client (if the store made it).

        The ``client_cache`` listener belongs to the store, not to a loop (the cache outlives
        the loop that filled it): :meth:`close` stops it, at the end of the process's use of
        the store."""
        loop = asyncio.get_running_loop()
        with self._lock:
            bundle = self._async.pop(loop, None)
            self._prune_async()
        if bundle is not None and bundle.owned:
            await bundle.client.aclose()
