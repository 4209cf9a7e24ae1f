"""Refresh storm cost: N concurrent requests of one session at the moment its access token
expires, against the same N requests with a fresh token, under a real server with the real
test IdP (rotation and reuse detection on). The IdP counts the refresh grants: one per
storm, whatever N.

The app is the test suite's (``tests.apps.*_app``) with the default SQLite store and
``refresh_leeway=0``, signed in through the IdP's login form with a 2 s access token
(later tokens get the IdP's default lifetime, so the refreshed one stays fresh).
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.idp import IdP, start_idp
from tests.support.servers import Server, app_env, free_port, session_cookie, sign_in, start_server

from .common import COOKIE_NAME

SHORT_TTL = 2
API = {"Accept": "application/json"}
APPS = {
    "uvicorn": ("tests.apps.asgi_app:app", 1, ("--timeout-keep-alive", "30")),
    "gunicorn": ("tests.apps.wsgi_app:app", 2, ("--keep-alive", "30")),
}


@dataclass
class Burst:
    seconds: float
    statuses: list[int]
    tokens: set[str]


@dataclass
class StormResult:
    server: str
    workers: int
    n: int
    storm_ms: list[float] = field(default_factory=list)
    fresh_ms: list[float] = field(default_factory=list)
    refreshes: list[int] = field(default_factory=list)  # refresh grants per storm
    reused: list[int] = field(default_factory=list)  # refresh tokens presented twice
    failures: list[str] = field(default_factory=list)

    @property
    def storm_median(self) -> float:
        return statistics.median(self.storm_ms)

    @property
    def fresh_median(self) -> float:
        return statistics.median(self.fresh_ms)

    def as_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "workers": self.workers,
            "n": self.n,
            "storm_ms_median": round(self.storm_median, 2),
            "fresh_ms_median": round(self.fresh_median, 2),
            "storm_over_fresh": round(self.storm_median / self.fresh_median, 3),
            "storm_ms": self.storm_ms,
            "fresh_ms": self.fresh_ms,
            "refreshes_per_storm": self.refreshes,
            "refresh_reuse": self.reused,
            "failures": self.failures,
        }


async def burst(url: str, cookie: str, n: int, *, not_before: float | None = None) -> Burst:
    """``n`` concurrent GET /api/token over ``n`` warm keep-alive connections, released
    together (after ``not_before``, a wall-clock time); how long until all had answered."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=60)
    headers = {**API, "Cookie": f"{COOKIE_NAME}={cookie}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:
        # Open the n connections first (a public path: nothing is refreshed here).
        await asyncio.gather(*(http.get("/public") for _ in range(n)))
        if not_before is not None:
            delay = not_before - time.time()
            if delay > 0:
                await asyncio.sleep(min(delay, 15.0))
        start = time.perf_counter()
        responses = await asyncio.gather(*(http.get("/api/token") for _ in range(n)))
        elapsed = time.perf_counter() - start
    tokens = {r.json()["access_token"] for r in responses if r.status_code == 200}
    return Burst(elapsed, [r.status_code for r in responses], tokens)


def _whoami(server: Server, cookie: str) -> dict[str, Any]:
    response = httpx.get(
        server.url + "/api/whoami",
        headers={**API, "Cookie": f"{COOKIE_NAME}={cookie}"},
        timeout=10,
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def storm_once(idp: IdP, server: Server, n: int, result: StormResult) -> None:
    """Sign in with a short-lived token, fire the storm at its expiry, then the same burst
    with the fresh token; append the figures to ``result``."""
    for _attempt in range(3):
        idp.reset()
        idp.set_access_token_ttl(SHORT_TTL)
        try:
            rp = sign_in(server.url, idp)
        finally:
            idp.set_access_token_ttl(idp.default_access_token_ttl)
        cookie = session_cookie(rp)
        rp.close()
        expires_at = float(_whoami(server, cookie)["expires_at"])
        if idp.refresh_grants() == 0 and expires_at > time.time() + 0.2:
            break
    else:
        result.failures.append("could not sign in with a token still fresh")
        return
    storm = asyncio.run(burst(server.url, cookie, n, not_before=expires_at + 0.05))
    refreshes = idp.refresh_grants()
    reused = int(idp.counts()["refresh_reuse"])
    fresh = asyncio.run(burst(server.url, cookie, n))
    result.storm_ms.append(storm.seconds * 1000)
    result.fresh_ms.append(fresh.seconds * 1000)
    result.refreshes.append(refreshes)
    result.reused.append(reused)
    if storm.statuses != [200] * n or fresh.statuses != [200] * n:
        bad = sorted(set(storm.statuses + fresh.statuses) - {200})
        result.failures.append(f"non-200 answers: {bad}")
    if len(storm.tokens) != 1:
        result.failures.append(f"the storm handed out {len(storm.tokens)} different tokens")
    if idp.refresh_grants() != refreshes:
        result.failures.append("the fresh burst refreshed again")


def start_app(kind: str, idp: IdP, workdir: Path) -> Server:
    module, workers, extra = APPS[kind]
    port = free_port()
    store = workdir / f"storm-{kind}.sqlite3"
    env = app_env(idp, port, f"sqlite:///{store}", THUNDERID_REFRESH_LEEWAY="0")
    return start_server(
        kind, module, env, port=port, workers=workers, log_dir=workdir, extra_args=extra
    )


def stop(server: Server) -> None:
    if server.kind == "gunicorn" and server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
    server.stop()


def run(
    *, quick: bool, n: int = 50, rounds: int | None = None, kinds: tuple[str, ...] = tuple(APPS)
) -> tuple[list[StormResult], list[str]]:
    rounds = rounds or (1 if quick else 3)
    results = []
    with tempfile.TemporaryDirectory(prefix="thunderid-bench-storm-") as tmp:
        workdir = Path(tmp)
        try:
            idp = start_idp(workdir / "idp")
        except Exception as exc:  # reported; the other scenarios go on
            return [], [f"refresh storm skipped: the test IdP did not start ({exc})"]
        try:
            for kind in kinds:
                server = start_app(kind, idp, workdir)
                result = StormResult(kind, APPS[kind][1], n)
                try:
                    for _ in range(rounds):
                        storm_once(idp, server, n, result)
                finally:
                    stop(server)
                results.append(result)
        finally:
            idp.reset()
            idp.stop()
    notes = [
        f"{n} concurrent GET /api/token of one session; {rounds} storm(s) per server; "
        "SQLite store; the test IdP (oidc-provider) on 127.0.0.1"
    ]
    return results, notes


def print_table(results: list[StormResult], notes: list[str]) -> None:
    print("\n## Refresh storm (all N requests answered, ms: median of storms)")
    if results:
        print(
            f"{'server':<24} {'N':>4} {'at expiry':>10} {'fresh':>8} {'extra':>8} "
            f"{'ratio':>6}  refreshes/storm  reuse"
        )
    for r in results:
        if not r.storm_ms:
            print(f"{r.server:<24} failed: {'; '.join(r.failures)}")
            continue
        label = f"{r.server} ({r.workers} worker{'s' if r.workers > 1 else ''})"
        extra = r.storm_median - r.fresh_median
        print(
            f"{label:<24} {r.n:>4} {r.storm_median:>10.1f} {r.fresh_median:>8.1f} "
            f"{extra:>+8.1f} {r.storm_median / r.fresh_median:>6.2f}  "
            f"{','.join(map(str, r.refreshes)):<16} {','.join(map(str, r.reused))}"
            + (f"  ({'; '.join(r.failures)})" if r.failures else "")
        )
    for note in notes:
        print(f"  note: {note}")
