"""What both halves of ``RedisStore`` share: the Lua scripts, one client per thread (sync)
or per event loop (async), key names and the error every failure becomes."""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import dataclass
from time import time
from typing import Any, NoReturn
from urllib.parse import unquote

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript, Script
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from ..core.errors import StoreUnavailable
from ..core.redact import redact_url
from ._redis_cache import InvalidatedCache
from .base import StoredItem

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

FIELDS = ("v", "d", "e")

# Retry once, at once, on a broken connection (e.g. a pooled socket the server closed);
# never on a timeout: a slow server must fail fast, not multiply the wait.
_RETRY_ON = (RedisConnectionError,)


#: ``redis+cluster://host:port`` (``rediss+cluster://`` with TLS): a Redis Cluster, found
#: from that node. Every script and command touches one key, so keys need no hash tags.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")


#: ``redis+sentinel://[:password@]host:port[,host:port]/service[/db]``: the primary that
#: the Sentinels at those addresses name for ``service`` (found again after a failover).
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    password: str | None
    ssl: bool

    def primary_options(self) -> dict[str, Any]:
        """How to reach the primary once the Sentinels named it."""
        return {"db": self.db, "password": self.password, "ssl": self.ssl}


def sentinel_target(url: str) -> SentinelTarget | None:
    """What a sentinel store URL names, or None for another URL; ``ValueError`` when it
    is malformed."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        return None
    rest = rest.partition("?")[0]
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) if at else None
    sentinels = []
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        if not colon or not name or not port.isdigit():
            raise ValueError(f"sentinel address {host!r} must be host:port")
        sentinels.append((name, int(port)))
    service, _, db = path.partition("/")
    if not service:
        raise ValueError(
            "name the service after the addresses: redis+sentinel://host:port/mymaster"
        )
    if db and not db.isdigit():
        raise ValueError(f"the database after the service must be a number, got {db!r}")
    return SentinelTarget(
        sentinels, service, int(db or 0), password or None, scheme.startswith("rediss")
    )


def cluster_url(url: str) -> str | None:
    """The redis-py URL of a cluster store URL (``redis://…``), or None for one server."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in CLUSTER_SCHEMES:
        return scheme.lower().partition("+")[0] + "://" + rest
    return None


def _retry() -> Retry:
    return Retry(NoBackoff(), 1, supported_errors=_RETRY_ON)


def _async_retry() -> AsyncRetry:
    return AsyncRetry(NoBackoff(), 1, supported_errors=_RETRY_ON)


class _SyncBundle:
    __slots__ = ("acquire", "client", "owned", "release", "save")

    def __init__(self, client: redis.Redis | redis.cluster.RedisCluster, owned: bool) -> None:
        self.client = client
        self.acquire: Script = client.register_script(_ACQUIRE_LUA)
        self.owned = owned
        self.save: Script = client.register_script(_SAVE_LUA)
        self.release: Script = client.register_script(_RELEASE_LUA)


class _AsyncBundle:
    __slots__ = ("acquire", "client", "owned", "release", "save")

    def __init__(
        self, client: redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster, owned: bool
    ) -> None:
        self.client = client
        self.acquire: AsyncScript = client.register_script(_ACQUIRE_LUA)
        self.owned = owned
        self.save: AsyncScript = client.register_script(_SAVE_LUA)
        self.release: AsyncScript = client.register_script(_RELEASE_LUA)


class RedisBase:
    """The state of a ``RedisStore`` (see its docstring for the parameters)."""

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
        self._cache: InvalidatedCache | None = None  # set by RedisStore(client_cache=True)

    def __repr__(self) -> str:
        return f"RedisStore({redact_url(self.url)!r}, prefix={self.prefix!r})"

    # -- internals ---------------------------------------------------------------------

    def _skey(self, key: str) -> str:
        return f"{self.prefix}s:{key}"

    def _lkey(self, name: str) -> str:
        return f"{self.prefix}l:{name}"

    def _forget(self, skey: str) -> None:
        """Before a write: drop the local copy, and keep no read already in flight."""
        if self._cache is not None:
            self._cache.drop(skey)

    def _sync_bundle(self) -> _SyncBundle:
        bundle = self._sync
        if bundle is not None:
            return bundle
        with self._lock:
            if self._sync is None:
                cluster = cluster_url(self.url)
                sentinel = sentinel_target(self.url)
                client: redis.Redis | redis.cluster.RedisCluster
                timeouts = self._timeouts()
                if sentinel is not None:
                    client = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
                        sentinel.sentinels, socket_timeout=self.socket_timeout
                    ).master_for(
                        sentinel.service, **sentinel.primary_options(), **timeouts, retry=_retry()
                    )
                elif cluster is not None:  # the cluster client follows MOVED/ASK itself
                    client = redis.cluster.RedisCluster.from_url(cluster, **timeouts)
                else:
                    client = redis.Redis.from_url(
                        self.url,
                        **timeouts,
                        retry=_retry(),
                    )
                self._sync = _SyncBundle(client, owned=True)
            return self._sync

    def _timeouts(self) -> dict[str, Any]:
        return {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
        }

    def _async_bundle(self) -> _AsyncBundle:
        if self._fixed_async is not None:
            return self._fixed_async
        loop = asyncio.get_running_loop()
        bundle = self._async.get(loop)
        if bundle is not None:
            return bundle
        cluster = cluster_url(self.url)
        sentinel = sentinel_target(self.url)
        client: redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
        timeouts = self._timeouts()
        if sentinel is not None:
            client = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]
                sentinel.sentinels, socket_timeout=self.socket_timeout
            ).master_for(
                sentinel.service, **sentinel.primary_options(), **timeouts, retry=_async_retry()
            )
        elif cluster is not None:
            client = redis.asyncio.cluster.RedisCluster.from_url(cluster, **timeouts)
        else:
            client = redis.asyncio.Redis.from_url(self.url, **timeouts, retry=_async_retry())
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


def text_dict(answer: Any) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in dict(answer).items()
    }


def item_of(fields: list[Any]) -> StoredItem | None:
    version, data, expires = fields
    if version is None or data is None:
        return None
    expires_at = math.inf if expires is None else float(expires)
    if expires_at <= time():
        return None
    return StoredItem(bytes(data), int(version), expires_at)


def save_args(
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


def lease_ms(lease_seconds: float) -> int:
    return max(1, math.ceil(lease_seconds * 1000))
