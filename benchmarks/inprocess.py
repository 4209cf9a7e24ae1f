"""In-process: call each app directly in a loop (no server, no socket) and measure
microseconds per request; overhead is against the bare app of the same kind, measured in
the same rounds (variants are interleaved round by round, so drift hits all alike).

WSGI apps get a copy of a prebuilt environ and a no-op ``start_response``; ASGI apps get
a copy of a prebuilt scope and trivial ``receive``/``send`` coroutines, all inside one
event loop.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import io
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunderid_mw import ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Message
from thunderid_mw.stores import MemoryStore, SQLiteStore
from thunderid_mw.stores.base import SessionStore

from . import apps
from .common import (
    COOKIE_NAME,
    OTHER_COOKIES,
    Stats,
    bench_config,
    calibrate,
    cookie_header,
    fmt,
    make_tokens,
    new_session_id,
    paired_overhead,
    seed_session,
    time_loop,
)

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124"
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def wsgi_environ(cookie: str | None, path: str = "/") -> dict[str, Any]:
    """An environ like gunicorn's for ``GET path`` from a browser."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "RAW_URI": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": USER_AGENT,
        "HTTP_ACCEPT": ACCEPT,
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
        "HTTP_CONNECTION": "keep-alive",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    return environ


def asgi_scope(cookie: str | None, path: str = "/") -> dict[str, Any]:
    """A scope like uvicorn's for ``GET path`` from a browser."""
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", USER_AGENT.encode()),
        (b"accept", ACCEPT.encode()),
        (b"accept-language", b"en-US,en;q=0.9"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"connection", b"keep-alive"),
    ]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


# -- drivers ------------------------------------------------------------------------------


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def wsgi_timer(app: Any, environ: dict[str, Any]) -> Callable[[int], float]:
    def run(n: int) -> None:
        for _ in range(n):
            body = app(environ.copy(), _start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return lambda n: time_loop(run, n)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


def asgi_timer(
    app: Any, scope: dict[str, Any], loop: asyncio.AbstractEventLoop
) -> Callable[[int], float]:
    async def run(n: int) -> float:
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(n):
            await app(dict(scope), _receive, _send)
        return (time.perf_counter_ns() - start) / n / 1000.0

    return lambda n: loop.run_until_complete(run(n))


def wsgi_status(app: Any, environ: dict[str, Any]) -> int:
    """Call once; the response status."""
    seen: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        seen.append(status)

    body = app(environ.copy(), start_response)
    b"".join(body)
    if hasattr(body, "close"):
        body.close()
    return int(seen[0].split()[0])


def asgi_status(app: Any, scope: dict[str, Any], loop: asyncio.AbstractEventLoop) -> int:
    seen: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen.append(message["status"])

    loop.run_until_complete(app(dict(scope), _receive, send))
    return seen[0]


# -- the scenario ---------------------------------------------------------------------------


@dataclass
class Variant:
    key: str  # e.g. "wsgi.memory"
    label: str
    baseline: str | None  # key of the variant it is compared with
    timer: Callable[[int], float]
    status: Callable[[], int]
    signed_in: Callable[[], bool | None] = lambda: None
    n: int = 0
    stats: Stats = field(default_factory=lambda: Stats([]))


@dataclass
class Result:
    key: str
    label: str
    baseline: str | None
    median_us: float
    min_us: float
    max_us: float
    overhead_us: float | None
    status: int
    signed_in: bool | None
    calls_per_round: int

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Setup:
    """Everything the variants need; ``close()`` releases it."""

    variants: list[Variant]
    loop: asyncio.AbstractEventLoop
    notes: list[str]
    closers: list[Callable[[], None]]
    # (store label, store, store key, version after seeding): no request may write
    watched: list[tuple[str, SessionStore, str, int]] = field(default_factory=list)

    def writes(self) -> list[str]:
        """The watched sessions whose stored version changed (i.e. a request wrote)."""
        changed = []
        for label, store, key, version in self.watched:
            item = store.load(key)
            if item is None or item.version != version:
                changed.append(label)
        return changed

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception as exc:  # best effort clean-up
                print(f"  (clean-up: {exc!r})", file=sys.stderr)
        self.loop.close()


def build(redis_url: str | None, workdir: Path) -> Setup:
    """The variants: WSGI and ASGI; bare, ours (memory, SQLite, Redis if ``redis_url``),
    ours signed out, and the peers."""
    loop = asyncio.new_event_loop()
    tokens = make_tokens()
    notes: list[str] = []
    closers: list[Callable[[], None]] = []
    variants: list[Variant] = []
    watched: list[tuple[str, SessionStore, str, int]] = []
    session_id = new_session_id()

    def watch(label: str, store: SessionStore, client: Any) -> None:
        key = client._session_key(session_id)
        item = store.load(key)
        assert item is not None
        watched.append((label, store, key, item.version))

    ours_cookie = cookie_header(session_id)
    signed_out_cookie = OTHER_COOKIES  # a browser with other cookies but no session

    def stores() -> list[tuple[str, str, Callable[[], SessionStore]]]:
        made: list[tuple[str, str, Callable[[], SessionStore]]] = [
            ("memory", "memory store", MemoryStore),
            (
                "sqlite",
                "SQLite store (file)",
                lambda: SQLiteStore(str(workdir / f"inprocess-{len(closers)}.sqlite3")),
            ),
        ]
        if redis_url:
            from thunderid_mw.stores import RedisStore

            made.append(
                ("redis", "Redis store (127.0.0.1)", lambda: RedisStore(redis_url, prefix="ip:"))
            )
            made.append(
                (
                    "redis_cached",
                    "Redis store, client_cache",
                    lambda: RedisStore(redis_url, prefix="ipc:", client_cache=True),
                )
            )
        return made

    if not redis_url:
        notes.append("Redis store skipped: no redis-server available")

    # WSGI ------------------------------------------------------------------------------
    environ = wsgi_environ(ours_cookie)
    bare = apps.wsgi_hello
    variants.append(_wsgi("wsgi.bare", "bare hello-world", None, bare, environ))
    for name, label, make in stores():
        store = make()
        closers.append(store.close)
        mw = apps.wsgi_thunderid(store)
        seed_session(mw.config, store, session_id, tokens)
        watch(f"WSGI {name}", store, mw.client)

        def signed_in(mw: ThunderIDWSGIMiddleware = mw, cookie: str = ours_cookie) -> bool:
            return mw.client.context_for_cookie(cookie).is_signed_in

        variants.append(
            _wsgi(
                f"wsgi.{name}",
                f"thunderid, signed in, {label}",
                "wsgi.bare",
                mw,
                environ,
                signed_in=signed_in,
            )
        )
        if name == "memory":
            variants.append(
                _wsgi(
                    "wsgi.signed_out",
                    "thunderid, signed out (no session cookie)",
                    "wsgi.bare",
                    mw,
                    wsgi_environ(signed_out_cookie),
                    signed_in=functools.partial(signed_in, mw, signed_out_cookie),
                )
            )
    flask_cookie = f"{OTHER_COOKIES}; session={apps.flask_session_cookie(tokens)}"
    variants.append(
        _wsgi("wsgi.flask_bare", "Flask hello-world", None, apps.flask_app("bare"), environ)
    )
    variants.append(
        _wsgi(
            "wsgi.flask_session",
            "Flask + signed-cookie session (peer)",
            "wsgi.flask_bare",
            apps.flask_app("session"),
            wsgi_environ(flask_cookie),
        )
    )
    flask_ours_store = MemoryStore()
    flask_ours = apps.flask_app("thunderid")
    flask_mw = ThunderIDWSGIMiddleware(flask_ours, bench_config(flask_ours_store))
    seed_session(flask_mw.config, flask_ours_store, session_id, tokens)
    variants.append(
        _wsgi(
            "wsgi.flask_thunderid",
            "Flask + thunderid, memory store",
            "wsgi.flask_bare",
            flask_mw,
            environ,
            signed_in=lambda: flask_mw.client.context_for_cookie(ours_cookie).is_signed_in,
        )
    )

    # ASGI ------------------------------------------------------------------------------
    scope = asgi_scope(ours_cookie)
    variants.append(_asgi("asgi.bare", "bare hello-world", None, apps.asgi_hello, scope, loop))
    for name, label, make in stores():
        store = make()
        if name.startswith("redis"):

            def close_async(store: SessionStore = store) -> None:
                loop.run_until_complete(store.aclose())

            closers.append(close_async)
        closers.append(store.close)
        amw = apps.asgi_thunderid(store)
        seed_session(amw.config, store, session_id, tokens)
        watch(f"ASGI {name}", store, amw.client)

        def check(amw: Any = amw, cookie: str = ours_cookie) -> bool:
            ctx = loop.run_until_complete(amw.client.context_for_cookie(cookie))
            return bool(ctx.is_signed_in)

        variants.append(
            _asgi(
                f"asgi.{name}",
                f"thunderid, signed in, {label}",
                "asgi.bare",
                amw,
                scope,
                loop,
                signed_in=check,
            )
        )
        if name == "memory":
            variants.append(
                _asgi(
                    "asgi.signed_out",
                    "thunderid, signed out (no session cookie)",
                    "asgi.bare",
                    amw,
                    asgi_scope(signed_out_cookie),
                    loop,
                    signed_in=functools.partial(check, amw, signed_out_cookie),
                )
            )
    starlette_cookie = f"{OTHER_COOKIES}; session={apps.starlette_session_cookie(tokens)}"
    variants.append(
        _asgi(
            "asgi.session_middleware",
            "Starlette SessionMiddleware (peer)",
            "asgi.bare",
            apps.starlette_session(),
            asgi_scope(starlette_cookie),
            loop,
        )
    )
    notes.append(
        f"cookie sizes: ours {len(COOKIE_NAME) + 44} B; Starlette session "
        f"{len(starlette_cookie) - len(OTHER_COOKIES) - 2} B; Flask session "
        f"{len(flask_cookie) - len(OTHER_COOKIES) - 2} B"
    )
    return Setup(variants, loop, notes, closers, watched)


def _wsgi(
    key: str,
    label: str,
    baseline: str | None,
    app: Any,
    environ: dict[str, Any],
    signed_in: Callable[[], bool | None] = lambda: None,
) -> Variant:
    return Variant(
        key,
        "WSGI  " + label,
        baseline,
        wsgi_timer(app, environ),
        lambda: wsgi_status(app, environ),
        signed_in,
    )


def _asgi(
    key: str,
    label: str,
    baseline: str | None,
    app: Any,
    scope: dict[str, Any],
    loop: asyncio.AbstractEventLoop,
    signed_in: Callable[[], bool | None] = lambda: None,
) -> Variant:
    return Variant(
        key,
        "ASGI  " + label,
        baseline,
        asgi_timer(app, scope, loop),
        lambda: asgi_status(app, scope, loop),
        signed_in,
    )


def check(setup: Setup) -> dict[str, tuple[int, bool | None]]:
    """Call every variant once: its status and whether it saw a signed-in session."""
    return {v.key: (v.status(), v.signed_in()) for v in setup.variants}


def measure(setup: Setup, rounds: int, round_seconds: float) -> list[Result]:
    checks = check(setup)
    for v in setup.variants:
        v.n = calibrate(v.timer, round_seconds)
    for r in range(rounds):
        # Rotate the order each round so no variant always runs first or last.
        shift = r % len(setup.variants)
        order = setup.variants[shift:] + setup.variants[:shift]
        for v in order:
            v.stats.rounds.append(v.timer(v.n))
    by_key = {v.key: v for v in setup.variants}
    results = []
    for v in setup.variants:
        overhead = None
        if v.baseline is not None:
            overhead = paired_overhead(v.stats.rounds, by_key[v.baseline].stats.rounds)
        status, signed_in = checks[v.key]
        results.append(
            Result(
                v.key,
                v.label,
                v.baseline,
                v.stats.median,
                v.stats.low,
                v.stats.high,
                overhead,
                status,
                signed_in,
                v.n,
            )
        )
    return results


def run(
    redis_url: str | None, *, quick: bool, rounds: int | None = None, seconds: float | None = None
) -> tuple[list[Result], list[str], list[str]]:
    """(results, notes, stores written to by a request: must be empty)."""
    rounds = rounds or (5 if quick else 9)
    seconds = seconds or (0.05 if quick else 0.12)
    with tempfile.TemporaryDirectory(prefix="thunderid-bench-") as tmp:
        setup = build(redis_url, Path(tmp))
        try:
            results = measure(setup, rounds, seconds)
            written = setup.writes()
        finally:
            setup.close()
    notes = [
        *setup.notes,
        f"{rounds} rounds of ~{seconds * 1000:.0f} ms per variant, interleaved",
        "sessions written to by the requests (stored version changed): "
        + (", ".join(written) if written else "none"),
    ]
    return results, notes, written


def print_table(results: list[Result], notes: list[str]) -> None:
    print("\n## In-process (µs per request; median of rounds, min-max; overhead vs baseline)")
    print(f"{'variant':<56} {'µs/req':>8} {'min-max':>15} {'overhead':>9}  baseline")
    for r in results:
        spread = f"{fmt(r.min_us)}-{fmt(r.max_us)}"
        overhead = "" if r.overhead_us is None else f"{r.overhead_us:+.2f}"
        flag = "" if r.status == 200 else f"  (status {r.status}!)"
        print(
            f"{r.label:<56} {fmt(r.median_us):>8} {spread:>15} {overhead:>9}  "
            f"{r.baseline or ''}{flag}"
        )
    for note in notes:
        print(f"  note: {note}")
