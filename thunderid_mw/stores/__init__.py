"""Session stores: where sessions and refresh locks live.

* :class:`MemoryStore` -- this process only (tests, development, one worker);
* :class:`SQLiteStore` -- one file, shared by the threads and processes of one host
  (the default);
* :class:`RedisStore` -- Redis or Valkey, shared by several hosts (needs the ``redis``
  extra: ``pip install 'thunderid-mw[redis]'``).

:func:`store_from_url` builds one from a URL, e.g. from an environment variable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ..core.errors import ConfigError
from .base import SessionStore, StoredItem
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = [
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "SessionStore",
    "StoredItem",
    "store_from_url",
]

_SCHEMES = (
    "memory://, sqlite:///path/to/file.sqlite3, redis://, rediss://, unix:// or redis+cluster://"
)


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        try:
            from .redis import RedisStore
        except ImportError as exc:
            if exc.name is not None and exc.name.split(".")[0] != "redis":
                raise
            raise ImportError(
                "RedisStore needs redis-py: pip install 'thunderid-mw[redis]'",
                name=exc.name,
            ) from exc
        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def store_from_url(url: str) -> SessionStore:
    """Build a session store from a URL.

    * ``memory://`` (``memory://?max_items=N``) -- a :class:`MemoryStore`;
    * ``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3``
      (``?timeout=SECONDS``) -- a :class:`SQLiteStore`; the path follows the three
      slashes, as in SQLAlchemy;
    * ``redis://...``, ``rediss://...`` (TLS) and ``unix:///path/to/socket`` -- a
      :class:`RedisStore` for that URL (``?prefix=...`` sets the key prefix,
      ``?client_cache=yes`` keeps session reads in the process; other query parameters go
      to redis-py);
    * ``redis+cluster://host:port`` (``rediss+cluster://`` with TLS) -- a
      :class:`RedisStore` on the Redis Cluster that node belongs to;
    * ``redis+sentinel://[:password@]host:port[,host:port]/service[/db]`` -- a
      :class:`RedisStore` on the primary the Sentinels name for ``service``.

    :raises ConfigError: for any other URL, or a malformed one.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(f"not a session store URL; use {_SCHEMES}")
    if scheme == "memory":
        query = _query(rest, scheme)
        max_items = query.pop("max_items", None)
        _no_more(query, scheme)
        try:
            return MemoryStore(max_items=_number(int, max_items, "max_items"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if scheme == "sqlite":
        path, _, qs = rest.partition("?")
        if not path.startswith("/") or path == "/":
            raise ConfigError(
                "a sqlite store URL needs a file path: sqlite:///relative/file.sqlite3 or "
                "sqlite:////absolute/file.sqlite3"
            )
        query = _query("?" + qs, scheme)
        timeout = query.pop("timeout", None)
        _no_more(query, scheme)
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = _number(float, timeout, "timeout")
        return SQLiteStore(os.path.normpath(unquote(path[1:])), **kwargs)
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        try:
            from .redis import RedisStore, sentinel_target
        except ImportError as exc:
            raise ConfigError(
                f"a {scheme}:// session store needs redis-py: pip install 'thunderid-mw[redis]'"
            ) from exc
        try:
            sentinel_target(url)
        except ValueError as exc:
            raise ConfigError(f"malformed {scheme}:// session store URL: {exc}") from None
        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        prefixes = [v for k, v in pairs if k == "prefix"]
        base = url.partition("?")[0]
        return RedisStore(base, prefix=prefixes[-1]) if prefixes else RedisStore(base)
    if scheme in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
        try:
            from .redis import RedisStore
        except ImportError as exc:
            raise ConfigError(
                f"a {scheme}:// session store needs redis-py: pip install 'thunderid-mw[redis]'"
            ) from exc
        from redis.connection import parse_url

        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        prefix = [v for k, v in pairs if k == "prefix"]
        client_cache = [v for k, v in pairs if k == "client_cache"]
        redis_url = url
        if prefix or client_cache:
            ours = ("prefix", "client_cache")
            rest_query = urlencode([(k, v) for k, v in pairs if k not in ours])
            # Not urlunsplit: it turns unix:///path into unix:/path, which redis-py refuses.
            base = url.partition("?")[0]
            redis_url = base + ("?" + rest_query if rest_query else "")
        try:
            # fail now, not per request
            parse_url(redis_url.replace("+cluster://", "://", 1))  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise ConfigError(f"malformed {scheme}:// session store URL: {exc}") from None
        options: dict[str, Any] = {}
        if prefix:
            options["prefix"] = prefix[-1]
        if client_cache:
            if client_cache[-1].lower() not in ("yes", "true", "1", "no", "false", "0"):
                raise ConfigError("client_cache in a store URL is yes or no")
            options["client_cache"] = client_cache[-1].lower() in ("yes", "true", "1")
        try:
            return RedisStore(redis_url, **options)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    raise ConfigError(f"unsupported session store URL scheme {scheme!r}; use {_SCHEMES}")


def _query(rest: str, scheme: str) -> dict[str, str]:
    _, _, qs = rest.partition("?")
    try:
        return dict(parse_qsl(qs, keep_blank_values=True, strict_parsing=bool(qs)))
    except ValueError as exc:
        raise ConfigError(f"malformed query in a {scheme}:// store URL") from exc


def _no_more(query: dict[str, str], scheme: str) -> None:
    if query:
        raise ConfigError(f"unknown {scheme}:// store URL parameter(s): {', '.join(query)}")


def _number(kind: type[int] | type[float], value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"store URL parameter {name} must be a number") from None
