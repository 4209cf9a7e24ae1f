"""The start-up check of a session store: one write, read and delete of a probe record,
so a store that cannot work (an SQLite path that cannot be created or written, Redis
unreachable or refusing the password) stops the app at start-up with a ``ConfigError``
naming the store and the fix, not at the first sign-in."""

from __future__ import annotations

import secrets
import time

from ..core.errors import ConfigError, StoreUnavailable
from .base import SyncSessionStore

PROBE_LIFETIME = 60.0  # the probe expires by itself if the delete is lost


def check_store(store: SyncSessionStore) -> None:
    """Raise ``ConfigError`` unless ``store`` can save, load and delete a record."""
    key = "probe:" + secrets.token_hex(8)
    try:
        version = store.save(
            key, b"probe", expires_at=time.time() + PROBE_LIFETIME, expected_version=None
        )
        item = store.load(key)
        store.delete(key)
    except StoreUnavailable as exc:
        raise ConfigError(
            f"the session store cannot be used: {exc}. {store_fix(store, exc)}"
        ) from exc
    if version is None or item is None or item.data != b"probe":
        raise ConfigError(f"the session store {store!r} did not keep a record it accepted")


def store_fix(store: SyncSessionStore, exc: BaseException) -> str:
    """What to change, for the failures seen in practice."""
    kind = type(store).__name__
    cause = f"{exc} {exc.__cause__ or ''}".lower()
    if kind == "SQLiteStore":
        return (
            "Fix: point the store at a file in a directory the app's user can write, with an "
            "absolute path (THUNDERID_STORE=sqlite:////var/lib/myapp/sessions.sqlite3); in a "
            "container that runs as non-root the working directory is often read-only"
        )
    if kind == "RedisStore":
        if "auth" in cause or "password" in cause or "noperm" in cause:
            return (
                "Fix: put the right user and password in the store URL "
                "(redis://user:password@host:6379/0)"
            )
        return (
            "Fix: start Redis, or correct the host, port and scheme (redis:// or rediss://) "
            "in the store URL (THUNDERID_STORE)"
        )
    return "Fix: check the store's settings (THUNDERID_STORE)"
