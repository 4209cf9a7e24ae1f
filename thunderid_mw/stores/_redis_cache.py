"""Session reads kept in this process, dropped by Redis's own invalidation messages.

Redis's server-assisted client-side caching, broadcasting mode: one listener connection
runs ``CLIENT TRACKING ON REDIRECT <its own id> BCAST PREFIX <the store's session keys>``
and subscribes to ``__redis__:invalidate``, so the server tells it about every change to
a session key by any client, whichever connection read it. The store's data connections
need no set-up, and losing one loses nothing.

A read is kept only if no invalidation came while it was in flight (a ticket taken before
the read), so a reply that crosses its own invalidation is never kept. Nothing is kept or
served without a live listener; the listener pings the server when it has heard nothing
for ``HEARTBEAT`` seconds, and counts the connection lost (dropping everything) when no
answer comes within the store's ``socket_timeout``.
"""

from __future__ import annotations

import os
import threading
from time import monotonic, time
from typing import Any

import redis
from redis.exceptions import RedisError

from .item import StoredItem

CHANNEL = "__redis__:invalidate"
HEARTBEAT = 0.25  # seconds of silence before the listener pings the server
RETRY_PAUSE = 0.5  # seconds between attempts to open the listener again


class ListenerLost(Exception):
    """The listener's server did not answer a ping in time."""


class InvalidatedCache:
    """The local cache of one ``RedisStore`` and the thread that listens for its
    invalidations."""

    def __init__(self, url: str, key_prefix: str, socket_timeout: float) -> None:
        self._url = url
        self._key_prefix = key_prefix
        self._socket_timeout = socket_timeout
        self._start()

    def _start(self) -> None:
        # Also in a forked child: the parent's listener thread did not come along.
        self._pid = os.getpid()
        self._items: dict[str, StoredItem] = {}
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by every invalidation and listener change
        self._listening = False
        self._listener: Any = None
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, name="thunderid-redis-invalidations", daemon=True
        )
        self._thread.start()

    # -- the store's side --------------------------------------------------------------

    def get(self, key: str) -> StoredItem | None:
        if self._pid != os.getpid():
            self._start()
        item = self._items.get(key)
        if item is None or not self._listening:
            return None
        if item.expires_at <= time():
            self.drop(key)
            return None
        return item

    def ticket(self) -> int | None:
        """Take before a read; ``None`` while no listener runs (then do not keep it)."""
        with self._lock:
            return self._epoch if self._listening else None

    def put(self, key: str, item: StoredItem, ticket: int) -> None:
        with self._lock:
            if ticket == self._epoch and self._listening:
                self._items[key] = item

    def drop(self, key: str) -> None:
        with self._lock:
            self._epoch += 1
            self._items.pop(key, None)

    def close(self) -> None:
        self._closed.set()
        listener = self._listener
        if listener is not None:
            listener.disconnect()
        self._thread.join(timeout=5)

    # -- the listener ------------------------------------------------------------------

    def _listen(self) -> None:
        while not self._closed.is_set():
            connection: Any = None
            try:
                connection = redis.Redis.from_url(
                    self._url,
                    socket_connect_timeout=self._socket_timeout,
                    socket_timeout=self._socket_timeout,
                    protocol=2,  # pub/sub messages as plain replies
                ).connection_pool.make_connection()
                self._listener = connection
                connection.connect()
                connection.send_command("CLIENT", "ID")
                own_id = int(connection.read_response())
                connection.send_command(
                    "CLIENT", "TRACKING", "ON", "REDIRECT", own_id,
                    "BCAST", "PREFIX", self._key_prefix,
                )  # fmt: skip
                connection.read_response()
                connection.send_command("SUBSCRIBE", CHANNEL)
                connection.read_response()
                with self._lock:
                    self._epoch += 1
                    self._items.clear()
                    self._listening = True
                self._follow(connection)
            except (RedisError, OSError, ValueError, TypeError, ListenerLost):
                pass
            finally:
                with self._lock:
                    self._listening = False
                    self._epoch += 1
                    self._items.clear()
                if connection is not None:
                    connection.disconnect()
                self._listener = None
            self._closed.wait(RETRY_PAUSE)

    def _follow(self, connection: Any) -> None:
        heard = monotonic()
        pinged = False
        while not self._closed.is_set():
            if connection.can_read(timeout=HEARTBEAT):
                self._invalidate(connection.read_response())
                heard, pinged = monotonic(), False
            elif monotonic() - heard > HEARTBEAT + self._socket_timeout:
                raise ListenerLost
            elif not pinged:
                connection.send_command("PING")
                pinged = True

    def _invalidate(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
            return  # a pong, or a subscription reply
        keys = message[2]
        with self._lock:
            self._epoch += 1
            if keys is None:  # FLUSHALL / FLUSHDB
                self._items.clear()
                return
            for key in keys:
                self._items.pop(key.decode() if isinstance(key, bytes) else str(key), None)
