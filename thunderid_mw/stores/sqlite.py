"""A session store in one SQLite file, shared by the threads and processes of one host.

This is the default store: it needs no server, and the worker processes of one host
(gunicorn, uvicorn ``--workers``, ...) see the same sessions and locks. The file must be on
a local disk (WAL mode does not work over network file systems). For several hosts use
``RedisStore``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from time import monotonic, sleep, time
from typing import Any, NoReturn

from ..core.errors import ConfigError, StoreUnavailable
from .base import LocalAsyncTwins, StoredItem

__all__ = ["SQLiteStore"]

# sessions is a rowid table on purpose: a record (encrypted tokens) is a few kB, and in a
# WITHOUT ROWID table rows that large spill to overflow pages and make the primary-key
# B-tree deep (measured: load 5.6 us vs 4.3 us, at 3 kB records). The key's own index
# stays small. locks holds tiny rows: WITHOUT ROWID suits it.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sessions ("
    " key TEXT PRIMARY KEY, version INTEGER NOT NULL, expires_at REAL NOT NULL,"
    " data BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at)",
    "CREATE TABLE IF NOT EXISTS locks ("
    " name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID",
)

_LOAD = "SELECT data, version, expires_at FROM sessions WHERE key = ? AND expires_at > ?"

# Create-if-absent: an expired record counts as absent and is replaced in place; the new
# version is above the old one even then. One statement = one write transaction that takes
# the write lock before it reads, so no BEGIN IMMEDIATE is needed.
_CREATE = (
    "INSERT INTO sessions (key, version, expires_at, data) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (key) DO UPDATE SET version = max(sessions.version + 1, excluded.version),"
    " expires_at = excluded.expires_at, data = excluded.data"
    " WHERE sessions.expires_at <= ?5"
    " RETURNING version"
)

_UPDATE = (
    "UPDATE sessions SET version = ?1, expires_at = ?2, data = ?3"
    " WHERE key = ?4 AND version = ?5 AND expires_at > ?6"
)

_DELETE = "DELETE FROM sessions WHERE key = ?"

# Take the lease if it is free or has lapsed, atomically.
_ACQUIRE = (
    "INSERT INTO locks (name, owner, expires_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at"
    " WHERE locks.expires_at <= ?4 OR locks.owner = excluded.owner"
    " RETURNING 1"
)

_RELEASE = "DELETE FROM locks WHERE name = ? AND owner = ? RETURNING expires_at"

_PURGE_SESSIONS = (
    "DELETE FROM sessions WHERE key IN (SELECT key FROM sessions WHERE expires_at <= ? LIMIT ?)"
)
_PURGE_LOCKS = "DELETE FROM locks WHERE expires_at <= ?"

#: Rows the periodic sweep deletes per statement (keeps each write transaction short).
_PURGE_BATCH = 500

# Errors that are bugs in the caller, not an unusable database.
_CALLER_ERRORS = (
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.NotSupportedError,
)

_NO_STATE: tuple[Any, None] = (None, None)

# Connections opened before a fork. SQLite forbids using them in the child, and closing
# them there could disturb the parent's locks, so the child keeps them open, untouched.
_INHERITED: list[sqlite3.Connection] = []
_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._forget_parent_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)


class SQLiteStore(LocalAsyncTwins):
    """Keep session records in a SQLite database file.

    Each thread of each process uses its own connection (opened on first use, and opened
    anew in a child process after a fork). The database runs in WAL mode with
    ``synchronous=NORMAL``: readers never wait for writers, and a commit does not wait for
    the disk. Every write is a single statement, hence a single short write transaction;
    writers wait for one another up to ``timeout`` seconds, after which the operation
    raises ``StoreUnavailable``.

    ``load`` is one indexed ``SELECT``. Expired records and leases are deleted by a sweep
    that runs after every ``sweep_every`` writes or ``sweep_interval`` seconds of a
    process, and by ``purge_expired``.

    :param path: The database file, created if missing (with its tables). A relative path
        is resolved against the working directory at construction. It must be a real file
        (``":memory:"`` would give every thread its own database).
    :param timeout: Seconds to wait for a lock held by another connection.
    :param sweep_every: Writes between two sweeps (per process).
    :param sweep_interval: Seconds between two sweeps (per process), whatever the writes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "thunderid-sessions.sqlite3",
        *,
        timeout: float = 5.0,
        sweep_every: int = 1000,
        sweep_interval: float = 60.0,
    ) -> None:
        raw = os.fspath(path)
        if raw in ("", ":memory:") or raw.startswith("file:"):
            raise ConfigError(
                f"SQLiteStore needs the path of a database file, not {raw!r}; "
                "use MemoryStore for an in-process store"
            )
        self.path = os.path.abspath(raw)
        self.timeout = timeout
        self.sweep_every = sweep_every
        self.sweep_interval = sweep_interval
        self._local = threading.local()
        # Changes on close() and in a forked child: thread-local connections made under an
        # older token are not used again.
        self._token = object()
        self._schema_token: object | None = None
        self._conns: dict[int, sqlite3.Connection] = {}  # thread ident -> connection
        self._conns_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._sweep_lock = threading.Lock()
        self._writes = 0
        self._next_sweep = time() + sweep_interval
        _STORES.add(self)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- sync API ----------------------------------------------------------------------

    def load(self, key: str) -> StoredItem | None:
        """Return the live record stored under ``key``, or ``None``."""
        conn, token = getattr(self._local, "state", _NO_STATE)
        try:
            if token is not self._token:
                conn = self._open()
            row = conn.execute(_LOAD, (key, time())).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
        if row is None:
            return None
        return StoredItem(row[0], row[1], row[2])

    def save(
        self, key: str, data: bytes, *, expires_at: float, expected_version: int | None
    ) -> int | None:
        """Create (``expected_version=None``) or compare-and-set the record under ``key``.

        Returns the new version, or ``None`` when the condition failed.
        """
        now = time()
        new_version = int(now * 1_000_000)
        try:
            conn = self._connection()
            if expected_version is None:
                rows = conn.execute(_CREATE, (key, new_version, expires_at, data, now)).fetchall()
                version: int | None = rows[0][0] if rows else None
            else:
                new_version = max(expected_version + 1, new_version)
                cur = conn.execute(
                    _UPDATE, (new_version, expires_at, data, key, expected_version, now)
                )
                version = new_version if cur.rowcount == 1 else None
        except sqlite3.Error as exc:
            self._fail(exc)
        self._after_write(now)
        return version

    def delete(self, key: str) -> None:
        """Remove the record under ``key`` (no error if there is none)."""
        try:
            self._connection().execute(_DELETE, (key,))
        except sqlite3.Error as exc:
            self._fail(exc)

    def acquire_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Take the lease ``name`` for ``owner`` unless another live lease holds it (the
        owner that holds it renews it)."""
        now = time()
        try:
            rows = (
                self._connection()
                .execute(_ACQUIRE, (name, owner, now + lease_seconds, now))
                .fetchall()
            )
        except sqlite3.Error as exc:
            self._fail(exc)
        return bool(rows)

    def release_lock(self, name: str, owner: str) -> bool:
        """Release the lease ``name`` if ``owner`` still holds it; return whether it did."""
        try:
            rows = self._connection().execute(_RELEASE, (name, owner)).fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
        return bool(rows) and rows[0][0] > time()

    def close(self) -> None:
        """Close this process's connections. The store reopens them if used again."""
        with self._conns_lock:
            self._token = object()
            conns, self._conns = self._conns, {}
        for conn in conns.values():
            conn.close()

    def purge_expired(self) -> int:
        """Delete every expired record and lease now; return how many records went."""
        now = time()
        total = 0
        try:
            conn = self._connection()
            while True:
                n = conn.execute(_PURGE_SESSIONS, (now, _PURGE_BATCH)).rowcount
                total += n
                if n < _PURGE_BATCH:
                    break
            conn.execute(_PURGE_LOCKS, (now,))
        except sqlite3.Error as exc:
            self._fail(exc)
        return total

    # -- internals ---------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        state = getattr(self._local, "state", None)
        if state is not None and state[1] is self._token:
            conn: sqlite3.Connection = state[0]
            return conn
        return self._open()

    def _open(self) -> sqlite3.Connection:
        ident = threading.get_ident()
        threading.current_thread()  # registers foreign threads, so pruning sees them alive
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            if self._schema_token is not self._token:
                with self._schema_lock:
                    if self._schema_token is not self._token:
                        self._set_up(conn)
                        self._schema_token = self._token
        except BaseException:
            conn.close()
            raise
        with self._conns_lock:
            token = self._token
            old = self._conns.pop(ident, None)  # a dead thread's, if the ident was reused
            alive = {t.ident for t in threading.enumerate()}
            dead = [i for i in self._conns if i not in alive]
            stale = [self._conns.pop(i) for i in dead]
            self._conns[ident] = conn
        for c in stale if old is None else [*stale, old]:
            c.close()
        self._local.state = (conn, token)
        return conn

    def _set_up(self, conn: sqlite3.Connection) -> None:
        # WAL mode and tables, once per process. Switching the journal mode can fail with
        # "database is locked" without waiting for the busy timeout (another process may
        # be doing the same): retry until the timeout.
        deadline = monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    if mode != "wal":
                        raise sqlite3.OperationalError(f"cannot use WAL mode (got {mode!r})")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or monotonic() >= deadline:
                    raise
                sleep(0.005)

    def _forget_parent_connections(self) -> None:
        # In a forked child: never touch the parent's connections (see _INHERITED).
        _INHERITED.extend(self._conns.values())
        self._conns = {}
        self._conns_lock = threading.Lock()
        self._schema_lock = threading.Lock()
        self._sweep_lock = threading.Lock()
        self._token = object()

    def _after_write(self, now: float) -> None:
        self._writes += 1
        if self._writes < self.sweep_every and now < self._next_sweep:
            return
        if not self._sweep_lock.acquire(blocking=False):
            return  # another thread is sweeping
        try:
            self._writes = 0
            self._next_sweep = now + self.sweep_interval
            conn = self._connection()
            conn.execute(_PURGE_SESSIONS, (now, _PURGE_BATCH))
            conn.execute(_PURGE_LOCKS, (now,))
        except sqlite3.Error:
            pass  # the write itself succeeded; the next sweep will try again
        finally:
            self._sweep_lock.release()

    def _fail(self, exc: sqlite3.Error) -> NoReturn:
        if isinstance(exc, _CALLER_ERRORS):
            raise exc
        raise StoreUnavailable(f"SQLite session store {self.path}: {exc}") from exc
