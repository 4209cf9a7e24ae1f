"""Under a real server: bounded ``wrk`` runs on 127.0.0.1 against uvicorn (ASGI) and
gunicorn (WSGI, gthread), and the production stacks (uvicorn on asyncio + h11, gunicorn
with uvicorn workers, granian ASGI and WSGI, hypercorn), one worker each, bare vs wrapped,
in alternating rounds.

Every app is ``benchmarks.serve:app`` with its own ``BENCH_APP``; the wrapped ones seed
their signed-in session in the worker process at import (so the memory store has it). The
requested path is ``/private``, which the middleware protects: a request that is not
signed in would be answered 302 and counted by wrk as a non-2xx response, so a run that
silently measured the signed-out path cannot pass unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.servers import Server, free_port, start_server

from . import apps
from .common import OTHER_COOKIES, cookie_header, make_tokens, new_session_id

PATH = "/private"
APP_MODULE = "benchmarks.serve:app"


@dataclass(frozen=True)
class Target:
    """One app under one server."""

    key: str  # e.g. "uvicorn.thunderid_memory"
    label: str
    server: str  # "uvicorn" | "gunicorn"
    app: str  # a BENCH_APP kind
    store: str = "memory://"
    baseline: str | None = None
    cookie: str = ""
    threads: int = 8  # gunicorn gthread threads
    args: tuple[str, ...] = ()  # the server's own options (event loop, worker class, ...)


@dataclass
class Measured:
    target: Target
    rps: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # vs the baseline run next to it
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rps) if self.rps else 0.0


def targets(session_id: str, sqlite_path: Path) -> list[Target]:
    tokens = make_tokens()
    ours = cookie_header(session_id)
    starlette = f"{OTHER_COOKIES}; session={apps.starlette_session_cookie(tokens)}"
    flask = f"{OTHER_COOKIES}; session={apps.flask_session_cookie(tokens)}"
    sqlite = f"sqlite:///{sqlite_path}"
    return [
        Target(
            "uvicorn.bare",
            "uvicorn  bare hello-world",
            "uvicorn",
            "asgi-bare",
            cookie=ours,
            args=UVICORN_STANDARD,
        ),
        Target(
            "uvicorn.thunderid_memory",
            "uvicorn  thunderid, memory store",
            "uvicorn",
            "asgi-thunderid",
            baseline="uvicorn.bare",
            cookie=ours,
            args=UVICORN_STANDARD,
        ),
        Target(
            "uvicorn.thunderid_sqlite",
            "uvicorn  thunderid, SQLite store",
            "uvicorn",
            "asgi-thunderid",
            store=sqlite,
            baseline="uvicorn.bare",
            cookie=ours,
            args=UVICORN_STANDARD,
        ),
        Target(
            "uvicorn.session_middleware",
            "uvicorn  Starlette SessionMiddleware (peer)",
            "uvicorn",
            "asgi-starlette-session",
            baseline="uvicorn.bare",
            cookie=starlette,
            args=UVICORN_STANDARD,
        ),
        Target("gunicorn.bare", "gunicorn bare hello-world", "gunicorn", "wsgi-bare", cookie=ours),
        Target(
            "gunicorn.thunderid_memory",
            "gunicorn thunderid, memory store",
            "gunicorn",
            "wsgi-thunderid",
            baseline="gunicorn.bare",
            cookie=ours,
        ),
        Target(
            "gunicorn.thunderid_sqlite",
            "gunicorn thunderid, SQLite store",
            "gunicorn",
            "wsgi-thunderid",
            store=sqlite,
            baseline="gunicorn.bare",
            cookie=ours,
        ),
        Target(
            "gunicorn.flask_bare",
            "gunicorn Flask hello-world",
            "gunicorn",
            "wsgi-flask-bare",
            cookie=flask,
        ),
        Target(
            "gunicorn.flask_session",
            "gunicorn Flask + signed-cookie session (peer)",
            "gunicorn",
            "wsgi-flask-session",
            baseline="gunicorn.flask_bare",
            cookie=flask,
        ),
        # The same with one thread: no GIL hand-over between threads (context).
        Target(
            "gunicorn1.bare",
            "gunicorn 1 thread: bare hello-world",
            "gunicorn",
            "wsgi-bare",
            cookie=ours,
            threads=1,
        ),
        Target(
            "gunicorn1.thunderid_memory",
            "gunicorn 1 thread: thunderid, memory store",
            "gunicorn",
            "wsgi-thunderid",
            baseline="gunicorn1.bare",
            cookie=ours,
            threads=1,
        ),
        Target(
            "gunicorn1.thunderid_sqlite",
            "gunicorn 1 thread: thunderid, SQLite store",
            "gunicorn",
            "wsgi-thunderid",
            store=sqlite,
            baseline="gunicorn1.bare",
            cookie=ours,
            threads=1,
        ),
        *(target for stack in STACKS for target in stack.targets(ours)),
    ]


# uvicorn[standard]: what "uvicorn app:app" picks when uvloop and httptools are installed.
UVICORN_STANDARD = ("--loop", "uvloop", "--http", "httptools")


@dataclass(frozen=True)
class Stack:
    """A production server set-up, measured bare and wrapped (memory store)."""

    key: str
    label: str
    server: str
    asgi: bool
    args: tuple[str, ...] = ()

    def targets(self, cookie: str) -> list[Target]:
        kind = "asgi" if self.asgi else "wsgi"
        bare = Target(
            f"{self.key}.bare", f"{self.label}: bare", self.server, f"{kind}-bare",
            cookie=cookie, args=self.args,
        )  # fmt: skip
        wrapped = Target(
            f"{self.key}.thunderid_memory", f"{self.label}: thunderid, memory store",
            self.server, f"{kind}-thunderid", baseline=bare.key, cookie=cookie, args=self.args,
        )  # fmt: skip
        return [bare, wrapped]


STACKS = (
    Stack(
        "uvicorn_h11", "uvicorn asyncio + h11", "uvicorn", True,
        ("--loop", "asyncio", "--http", "h11"),
    ),
    Stack(
        "gunicorn_uvicorn", "gunicorn + uvicorn worker", "gunicorn", True,
        ("--worker-class", "uvicorn_worker.UvicornWorker"),
    ),
    Stack("granian", "granian ASGI", "granian", True),
    Stack("granian_wsgi", "granian WSGI", "granian", False, ("--interface", "wsgi")),
    Stack("hypercorn", "hypercorn ASGI", "hypercorn", True),
)  # fmt: skip


# -- wrk ------------------------------------------------------------------------------------


def ensure_wrk() -> str | None:
    """The path of ``wrk``, installing Debian's package if it is missing (as root, or
    through sudo); None if that is not possible."""
    found = shutil.which("wrk")
    if found:
        return found
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            return None
        prefix = [sudo, "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("  installing wrk (apt-get install -y wrk) ...", flush=True)
    install = [*prefix, "apt-get", "install", "-y", "wrk"]
    for cmd in (install, [*prefix, "apt-get", "update"], install):
        subprocess.run(cmd, env=env, check=False, capture_output=True, timeout=600)
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors:(.*)")


def run_wrk(
    wrk: str, url: str, cookie: str, *, seconds: float, connections: int = 32
) -> tuple[float, str | None]:
    """(requests per second, a problem or None) of one bounded wrk run (one thread)."""
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-H",
        f"Cookie: {cookie}",
        url,
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 30, check=False
    ).stdout
    match = _RPS.search(out)
    if match is None:
        return 0.0, f"wrk printed no rate:\n{out}"
    problem = None
    if m := _NON_2XX.search(out):
        problem = f"{m.group(1)} non-2xx responses"
    elif m := _SOCKET_ERRORS.search(out):
        problem = f"socket errors:{m.group(1)}"
    return float(match.group(1)), problem


# -- servers ----------------------------------------------------------------------------------


def start(target: Target, session_id: str, log_dir: Path) -> Server:
    env = {
        "BENCH_APP": target.app,
        "BENCH_STORE": target.store,
        "BENCH_SEED_SESSION_ID": session_id,
    }
    extra: tuple[str, ...] = ()
    if target.server == "uvicorn":
        extra = ("--lifespan", "off")
    elif target.server == "gunicorn":
        extra = ("--keep-alive", "30", "--threads", str(target.threads))
    return start_server(
        target.server, APP_MODULE, env, port=free_port(), workers=1, log_dir=log_dir,
        extra_args=(*extra, *target.args),
    )  # fmt: skip


def stop(server: Server) -> None:
    if server.kind == "gunicorn" and server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)  # quick shutdown
    server.stop()


def server_implementations() -> str:
    return (
        "uvicorn: uvloop + httptools (uvicorn[standard]); gunicorn: gthread worker with 8 "
        'threads ("gunicorn 1 thread": --threads 1); production stacks: '
        + "; ".join(f"{s.label} ({s.server} {' '.join(s.args)})".replace(" )", ")") for s in STACKS)
    )


@dataclass
class ServerResult:
    key: str
    label: str
    baseline: str | None
    rps_median: float
    rps_min: float
    rps_max: float
    ratio: float | None  # median over rounds of (this run / the baseline run next to it)
    ratio_min: float | None
    ratio_max: float | None
    errors: list[str]

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run(
    *, quick: bool, seconds: float | None = None, rounds: int | None = None
) -> tuple[list[ServerResult], list[str]]:
    """Each round runs every (baseline, variant) pair back to back (the order flips each
    round); a variant's ratio is the median over rounds of its rate over its neighbour
    baseline's rate, so slow drift of a shared machine cancels out."""
    wrk = ensure_wrk()
    if wrk is None:
        return [], ["server benchmark skipped: wrk is missing and could not be installed"]
    seconds = seconds or (1.0 if quick else 3.0)
    rounds = rounds or (3 if quick else 7)
    session_id = new_session_id()
    notes = [
        server_implementations(),
        f"wrk -t1 -c32 -d{seconds:g}s per run; {rounds} rounds of back-to-back "
        f"baseline/variant pairs; 1 worker per server; GET {PATH} with a Cookie header",
    ]
    with tempfile.TemporaryDirectory(prefix="thunderid-bench-srv-") as tmp:
        log_dir = Path(tmp)
        all_targets = targets(session_id, log_dir / "sessions.sqlite3")
        by_key = {t.key: t for t in all_targets}
        pairs = [(by_key[t.baseline], t) for t in all_targets if t.baseline]
        servers: dict[str, Server] = {}
        measured = {t.key: Measured(t) for t in all_targets}

        def once(t: Target) -> float:
            rps, problem = run_wrk(wrk, servers[t.key].url + PATH, t.cookie, seconds=seconds)
            measured[t.key].rps.append(rps)
            if problem:
                measured[t.key].errors.append(problem)
            return rps

        try:
            for t in all_targets:
                servers[t.key] = start(t, session_id, log_dir)
            for t in all_targets:  # warm-up (imports, caches, the first connections)
                run_wrk(wrk, servers[t.key].url + PATH, t.cookie, seconds=min(seconds, 1.0))
            for r in range(rounds):
                shift = r % len(pairs)
                for base, t in pairs[shift:] + pairs[:shift]:
                    if r % 2:
                        rate = once(t)
                        base_rate = once(base)
                    else:
                        base_rate = once(base)
                        rate = once(t)
                    measured[t.key].ratios.append(rate / base_rate if base_rate else 0.0)
        finally:
            for server in servers.values():
                stop(server)
    results = []
    for t in all_targets:
        m = measured[t.key]
        ratios = m.ratios
        results.append(
            ServerResult(
                t.key,
                t.label,
                t.baseline,
                m.median,
                min(m.rps),
                max(m.rps),
                statistics.median(ratios) if ratios else None,
                min(ratios) if ratios else None,
                max(ratios) if ratios else None,
                m.errors,
            )
        )
    return results, notes


def print_table(results: list[ServerResult], notes: list[str]) -> None:
    print("\n## Under a real server (requests/s: median, min-max; ratio: paired, vs baseline)")
    if not results:
        for note in notes:
            print(f"  note: {note}")
        return
    print(f"{'variant':<48} {'req/s':>7} {'min-max':>13} {'ratio':>6} {'min-max':>11}  baseline")
    for r in results:
        spread = f"{r.rps_min:.0f}-{r.rps_max:.0f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.3f}"
        rspread = "" if r.ratio is None else f"{r.ratio_min:.2f}-{r.ratio_max:.2f}"
        problems = f"  ({'; '.join(sorted(set(r.errors)))})" if r.errors else ""
        print(
            f"{r.label:<48} {r.rps_median:>7.0f} {spread:>13} {ratio:>6} {rspread:>11}  "
            f"{r.baseline or ''}{problems}"
        )
    for note in notes:
        print(f"  note: {note}")
