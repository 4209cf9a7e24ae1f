"""Where the hot path's time goes: each step of a signed-in request timed on its own.

    .venv/bin/python benchmarks/breakdown.py [--number N]

Prints nanoseconds per call (best of 5 repeats, ``timeit``) for the steps the middleware
takes on a request with a fresh session (cookie lookup, store key, ``store.load``, the
check) and for the whole of ``context_for_cookie``, with a memory and a SQLite store. A
step whose function no longer exists (after a refactoring) is reported as skipped. See
docs/performance.md for the profile this was made from.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import apps  # noqa: E402
from benchmarks.common import (  # noqa: E402
    COOKIE_NAME,
    OTHER_COOKIES,
    cookie_header,
    new_session_id,
    seed_session,
)
from benchmarks.inprocess import asgi_scope  # noqa: E402
from thunderid_mw.stores import MemoryStore, SQLiteStore  # noqa: E402
from thunderid_mw.stores.base import SessionStore  # noqa: E402

Step = tuple[str, Callable[[], Any] | None]


def _request_steps(mw: Any, session_id: str, header: str) -> list[Step]:
    """The pieces of a request before the store is reached (private names may be gone)."""
    from thunderid_mw import asgi
    from thunderid_mw.core import cookies

    client = mw.client
    value = cookies.find_cookie(header, COOKIE_NAME)
    pattern = getattr(cookies, "_SESSION_ID_RE", None)
    entry = getattr(client, "_entry", None)
    cookie_of_scope = getattr(asgi, "_cookie_header", None)
    reader = getattr(client, "_session_id_in", None)
    scope = asgi_scope(header)
    return [
        (
            "session_id_from_header(header)",
            lambda: cookies.session_id_from_header(header, COOKIE_NAME),
        ),
        ("  find_cookie(header)", lambda: cookies.find_cookie(header, COOKIE_NAME)),
        (
            "SessionCookieReader(header), a header seen before",
            None if reader is None else lambda: reader(header),
        ),
        (
            "  session id pattern fullmatch",
            None if pattern is None else lambda: pattern.fullmatch(value),
        ),
        ("client._entry(session_id)", None if entry is None else lambda: entry(session_id)),
        ("time.time()", time.time),
        ("router.is_protected('/')", lambda: mw._is_protected("/")),
        (
            "ASGI: cookie header from scope",
            None if cookie_of_scope is None else lambda: cookie_of_scope(scope),
        ),
        ("context_for_cookie(no session cookie)", lambda: client.context_for_cookie(OTHER_COOKIES)),
    ]


def _store_steps(
    label: str, mw: Any, store: SessionStore, session_id: str, header: str
) -> list[Step]:
    client = mw.client
    key = client._session_key(session_id)
    return [
        (f"{label}: store.load(key)", lambda: store.load(key)),
        (
            f"{label}: context_for_session(session_id)",
            lambda: client.context_for_session(session_id),
        ),
        (
            f"{label}: context_for_cookie(header)  [the hot path]",
            lambda: client.context_for_cookie(header),
        ),
    ]


def steps(workdir: Path) -> list[Step]:
    session_id = new_session_id()
    header = cookie_header(session_id)
    found: list[Step] = []
    stores: list[tuple[str, SessionStore]] = [
        ("memory", MemoryStore()),
        ("sqlite", SQLiteStore(workdir / "breakdown.sqlite3")),
    ]
    for label, store in stores:
        mw = apps.wsgi_thunderid(store)
        seed_session(mw.config, store, session_id)
        mw.client.context_for_cookie(header)  # decoded once, as after a first request
        if label == "memory":
            found += _request_steps(mw, session_id, header)
        found += _store_steps(label, mw, store, session_id, header)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per repeat")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="thunderid-breakdown-") as tmp:
        print(f"{'ns/call':>8}  step")
        for label, fn in steps(Path(tmp)):
            if fn is None:
                print(f"{'skipped':>8}  {label} (not found)")
                continue
            best = min(timeit.repeat(fn, number=args.number, repeat=5)) / args.number
            print(f"{best * 1e9:>8.0f}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
