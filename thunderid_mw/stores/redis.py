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
import math
import threading
from dataclasses import dataclass
from time import time
from typing import Any, NoReturn, cast

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript, Script
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from ..core.errors import StoreUnavailable
from ..core.redact import redact_url
from .base import StoredItem

__all__ = ["RedisStore"]

# KEYS[1] the record. ARGV: expected version ("" = create if absent), new version, data,
# expires_at (seconds, text), expires_at (integer ms, for PEXPIREAT), now (seconds, text).
# A record whose "e" is in the past counts as absent even if the server's clock has not
# expired it yet: liveness follows the clients' clocks, like load().
_SAVE_LUA = """
local cur = redis.call('HMGET', KEYS[1], 'v', 'e')
local live = cur[1] and (tonumber(cur[2]) or math.huge) > tonumber(ARGV[6])
if ARGV[1] == '' then
  if live then return 0 end
elseif (not live) or cur[1] ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'e', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1
"""

# KEYS[1] the lease, ARGV[1] the owner: delete only our own lease (fencing).
# Take the lease, or renew it for the owner that holds it (a refresh still waiting for the
# provider keeps its lease alive); another owner's live lease wins.
_ACQUIRE_LUA = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_FIELDS = ("v", "d", "e")

# Retry once, at once, on a broken connection (e.g. a pooled socket the server closed);
# never on a timeout: a slow server must fail fast, not multiply the wait.
_RETRY_ON = (RedisConnectionError,)


class _SyncBundle:
    __slots__ = ("acquire", "client", "owned", "release", "save")

    def __init__(self, client: redis.Redis, owned: bool) -> None:
        self.client = client
        self.acquire: Script = client.register_script(_ACQUIRE_LUA)
        self.owned = owned
        self.save: Script = client.register_script(_SAVE_LUA)
        self.release: Script = client.register_script(_RELEASE_LUA)


class _AsyncBundle:
    __slots__ = ("acquire", "client", "owned", "release", "save")

    def __init__(self, client: redis.asyncio.Redis, owned: bool) -> None:
        self.client = client
        self.acquire: AsyncScript = client.register_script(_ACQUIRE_LUA)
        self.owned = owned
        self.save: AsyncScript = client.register_script(_SAVE_LUA)
        self.release: AsyncScript = client.register_script(_RELEASE_LUA)


class RedisStore:
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
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "thunderid:",
        socket_timeout: float = 2.0,
        client: redis.Redis | None = None,
        async_client: redis.asyncio.Redis | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.socket_timeout = socket_timeout
        self._lock = threading.Lock()
        self._sync = None if client is None else _SyncBundle(client, owned=False)
        self._fixed_async = None if async_client is None else _AsyncBundle(async_client, False)
        self._async: dict[asyncio.AbstractEventLoop, _AsyncBundle] = {}

    def __repr__(self) -> str:
        return f"RedisStore({redact_url(self.url)!r}, prefix={self.prefix!r})"

    # -- sync API ----------------------------------------------------------------------

    def load(self, key: str) -> StoredItem | None:
        """Return the live record stored under ``key``, or ``None``."""
        try:
            fields = self._sync_bundle().client.hmget(self._skey(key), _FIELDS)
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return _item(cast(list[Any], fields))

    def save(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None:
        """Create (``expected_version=None``) or compare-and-set the record under ``key``.

        Returns the new version, or ``None`` when the condition failed.
        """
        version, args = _save_args(data, expires_at, expected_version)
        try:
            ok = self._sync_bundle().save(keys=[self._skey(key)], args=args)
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return version if ok else None

    def delete(self, key: str) -> None:
        """Remove the record under ``key`` (no error if there is none)."""
        try:
            self._sync_bundle().client.delete(self._skey(key))
        except (RedisError, OSError) as exc:
            self._fail(exc)

    def acquire_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease ``name`` for ``owner`` unless another live lease holds it (the
        owner that holds it renews it)."""
        try:
            ok = self._sync_bundle().acquire(
                keys=[self._lkey(name)], args=[owner, _lease_ms(lease_seconds)]
            )
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return bool(ok)

    def release_lock(self, name: str, owner: str) -> bool:
        """Release the lease ``name`` if ``owner`` still holds it; return whether it did."""
        try:
            n = self._sync_bundle().release(keys=[self._lkey(name)], args=[owner])
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return bool(n)

    def close(self) -> None:
        """Close the sync client's connections (if the store made the client).

        Async clients of event loops that have closed are dropped too; use :meth:`aclose`
        for the current loop's.
        """
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
                config.update(_text_dict(client.config_get(name)))
        except RedisError:
            pass  # CONFIG is disabled or not permitted: what INFO said has to do
        return RedisPersistence(
            aof=bool(int(info.get("aof_enabled", 0))),
            appendfsync=config.get("appendfsync"),
            snapshots=config.get("save"),
        )

    # -- async API ---------------------------------------------------------------------

    async def aload(self, key: str) -> StoredItem | None:
        """Async twin of :meth:`load`."""
        try:
            fields = await self._async_bundle().client.hmget(self._skey(key), _FIELDS)
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return _item(fields)

    async def asave(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None:
        """Async twin of :meth:`save`."""
        version, args = _save_args(data, expires_at, expected_version)
        try:
            ok = await self._async_bundle().save(keys=[self._skey(key)], args=args)
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return version if ok else None

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        try:
            await self._async_bundle().client.delete(self._skey(key))
        except (RedisError, OSError) as exc:
            self._fail(exc)

    async def aacquire_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Async twin of :meth:`acquire_lock`."""
        try:
            ok = await self._async_bundle().acquire(
                keys=[self._lkey(name)], args=[owner, _lease_ms(lease_seconds)]
            )
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return bool(ok)

    async def arelease_lock(self, name: str, owner: str) -> bool:
        """Async twin of :meth:`release_lock`."""
        try:
            n = await self._async_bundle().release(keys=[self._lkey(name)], args=[owner])
        except (RedisError, OSError) as exc:
            self._fail(exc)
        return bool(n)

    async def aclose(self) -> None:
        """Close the current event loop's async client (if the store made it)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            bundle = self._async.pop(loop, None)
            self._prune_async()
        if bundle is not None and bundle.owned:
            await bundle.client.aclose()

    # -- internals ---------------------------------------------------------------------

    def _skey(self, key: str) -> str:
        return f"{self.prefix}s:{key}"

    def _lkey(self, name: str) -> str:
        return f"{self.prefix}l:{name}"

    def _sync_bundle(self) -> _SyncBundle:
        bundle = self._sync
        if bundle is not None:
            return bundle
        with self._lock:
            if self._sync is None:
                client = redis.Redis.from_url(
                    self.url,
                    socket_timeout=self.socket_timeout,
                    socket_connect_timeout=self.socket_timeout,
                    retry=Retry(NoBackoff(), 1, supported_errors=_RETRY_ON),
                )
                self._sync = _SyncBundle(client, owned=True)
            return self._sync

    def _async_bundle(self) -> _AsyncBundle:
        if self._fixed_async is not None:
            return self._fixed_async
        loop = asyncio.get_running_loop()
        bundle = self._async.get(loop)
        if bundle is not None:
            return bundle
        client = redis.asyncio.Redis.from_url(
            self.url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
            retry=AsyncRetry(NoBackoff(), 1, supported_errors=_RETRY_ON),
        )
        bundle = _AsyncBundle(client, owned=True)
        with self._lock:
            self._prune_async()
            self._async[loop] = bundle
        return bundle

    def _prune_async(self) -> None:
        # Caller holds self._lock. A closed loop's connections cannot be closed any more.
        for loop in [lp for lp in self._async if lp.is_closed()]:
            del self._async[loop]

    def _fail(self, exc: BaseException) -> NoReturn:
        raise StoreUnavailable(
            f"Redis session store {redact_url(self.url)}: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class RedisPersistence:
    """The server's persistence settings: ``aof`` from ``INFO``; ``appendfsync`` and
    ``snapshots`` (the ``save`` schedule, ``""`` when off) are None when ``CONFIG GET``
    was not allowed."""

    aof: bool
    appendfsync: str | None
    snapshots: str | None


def _text_dict(answer: Any) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in dict(answer).items()
    }


def _item(fields: list[Any]) -> StoredItem | None:
    version, data, expires = fields
    if version is None or data is None:
        return None
    expires_at = math.inf if expires is None else float(expires)
    if expires_at <= time():
        return None
    return StoredItem(bytes(data), int(version), expires_at)


def _save_args(
    data: bytes, expires_at: float, expected_version: int | None
) -> tuple[int, list[Any]]:
    now = time()
    # Versions are microsecond timestamps bumped past the previous version, so they grow
    # even across a delete and a re-create of the same key (no ABA on compare-and-set).
    # They are computed here and compared as text in Lua: Lua numbers are doubles.
    version = int(now * 1_000_000)
    if expected_version is None:
        expected = ""
    else:
        expected = str(expected_version)
        version = max(expected_version + 1, version)
    args = [expected, version, data, repr(expires_at), math.ceil(expires_at * 1000), repr(now)]
    return version, args


def _lease_ms(lease_seconds: float) -> int:
    return max(1, math.ceil(lease_seconds * 1000))
