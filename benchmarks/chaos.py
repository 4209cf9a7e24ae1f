"""Refresh under a slow provider, the long version: many signed-in users with short
access tokens, gunicorn and uvicorn workers sharing one store, constant load, and the test
IdP's token endpoint made late (it still processes every refresh, after the client would
have given up) for a stretch of the run.

Counted: refresh grants and refresh-token reuse detections at the IdP, sessions lost (a
user signed out at the end), expired access tokens handed to the app (``expires_at``
before the moment the answer was received), 503 answers, and the latency of anonymous
requests on gunicorn while the provider is slow. Writes its table into
docs/resilience.md (between the CHAOS markers) with ``--write``.

    .venv/bin/python -m benchmarks.chaos                 # 200 users, 11 s late for 20 s
    .venv/bin/python -m benchmarks.chaos --users 50 --seconds 40 --write

Takes about 2 minutes plus the sign-ins (about 20 s per 100 users on 2 cores).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.redis.harness import sign_in_many
from tests.support.idp import start_idp
from tests.support.servers import Server, app_env, free_port, start_server

API = {"Accept": "application/json"}
COOKIE = "__thunderid__session"
DOC = Path(__file__).resolve().parents[1] / "docs" / "resilience.md"


@dataclass
class Tally:
    requests: int = 0
    ok: int = 0
    unavailable: int = 0
    other: int = 0
    expired_served: int = 0
    errors: int = 0
    anon_slow: list[float] = field(default_factory=list)  # ms, while the provider is slow
    anon_normal: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _start_servers(
    idp: object, store: str, workdir: Path, args: argparse.Namespace
) -> list[Server]:
    extra = {
        "THUNDERID_REFRESH_LEEWAY": str(args.leeway),
        "THUNDERID_HTTP_TIMEOUT": "10",
    }
    servers = []
    for kind, app, workers in (
        ("gunicorn", "tests.apps.wsgi_app:app", args.gunicorn_workers),
        ("uvicorn", "tests.apps.asgi_app:app", args.uvicorn_workers),
    ):
        port = free_port()
        env = app_env(idp, port, store, **extra)
        servers.append(start_server(kind, app, env, port=port, workers=workers, log_dir=workdir))
    return servers


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="thunderid-chaos-"))
    idp = start_idp(workdir / "idp")
    store = f"sqlite:///{workdir}/sessions.sqlite3"
    servers = _start_servers(idp, store, workdir, args)
    try:
        idp.set_access_token_ttl(args.ttl)
        gunicorn = servers[0]
        cookies = sign_in_many(idp, [(gunicorn.url, "alice")] * args.users)
        idp.reset()
        tally = Tally()
        slow = threading.Event()
        stop = threading.Event()

        def user_load(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(timeout=30, headers=API) as http:
                while not stop.is_set():
                    server = rng.choice(servers)
                    cookie = rng.choice(cookies)
                    try:
                        response = http.get(
                            server.url + "/api/whoami", headers={"Cookie": f"{COOKIE}={cookie}"}
                        )
                    except httpx.HTTPError:
                        with tally.lock:
                            tally.errors += 1
                        continue
                    received = time.time()
                    with tally.lock:
                        tally.requests += 1
                        if response.status_code == 200:
                            tally.ok += 1
                            expires_at = response.json().get("expires_at")
                            if expires_at is not None and expires_at < received:
                                tally.expired_served += 1
                        elif response.status_code == 503:
                            tally.unavailable += 1
                        else:
                            tally.other += 1

        def anonymous_probe() -> None:
            with httpx.Client(timeout=60) as http:
                while not stop.is_set():
                    began = time.perf_counter()
                    try:
                        http.get(gunicorn.url + "/public")
                    except httpx.HTTPError:
                        continue
                    ms = (time.perf_counter() - began) * 1000
                    (tally.anon_slow if slow.is_set() else tally.anon_normal).append(ms)
                    time.sleep(0.1)

        threads = [threading.Thread(target=user_load, args=(i,)) for i in range(args.clients)]
        threads.append(threading.Thread(target=anonymous_probe))
        for t in threads:
            t.start()
        time.sleep(args.fault_at)
        idp.delay("token", int(args.late * 1000))
        slow.set()
        time.sleep(args.fault_for)
        idp.delay("token", 0)
        slow.clear()
        time.sleep(max(0.0, args.seconds - args.fault_at - args.fault_for))
        stop.set()
        for t in threads:
            t.join(90)
        time.sleep(args.late + 2)  # let refreshes still in flight land
        lost = 0
        with httpx.Client(timeout=60, headers=API) as http:
            for cookie in cookies:
                answer = http.get(
                    gunicorn.url + "/api/whoami", headers={"Cookie": f"{COOKIE}={cookie}"}
                )
                if answer.status_code == 503:
                    time.sleep(1)
                    answer = http.get(
                        gunicorn.url + "/api/whoami", headers={"Cookie": f"{COOKIE}={cookie}"}
                    )
                if answer.status_code != 200 or not answer.json().get("signed_in"):
                    lost += 1
        counts = idp.counts()
        return {
            "users": args.users,
            "seconds": args.seconds,
            "late": args.late,
            "fault_for": args.fault_for,
            "ttl": args.ttl,
            "requests": tally.requests,
            "ok": tally.ok,
            "503": tally.unavailable,
            "other": tally.other,
            "transport_errors": tally.errors,
            "expired_served": tally.expired_served,
            "refresh_grants": idp.refresh_grants(),
            "refresh_reuse": int(counts["refresh_reuse"]),
            "sessions_lost": lost,
            "anon_p50_slow_ms": _percentile(tally.anon_slow, 0.5),
            "anon_p99_slow_ms": _percentile(tally.anon_slow, 0.99),
            "anon_p50_normal_ms": _percentile(tally.anon_normal, 0.5),
            "anon_mean_normal_ms": statistics.fmean(tally.anon_normal) if tally.anon_normal else 0,
        }
    finally:
        for server in servers:
            server.stop()
        idp.stop()


def table(result: dict[str, object]) -> str:
    rows = [
        ("signed-in users / access-token lifetime", f"{result['users']} / {result['ttl']} s"),
        (
            "token endpoint late",
            f"{result['late']} s for {result['fault_for']} s of a {result['seconds']} s run",
        ),
        (
            "requests (200 / 503 / other / transport errors)",
            f"{result['requests']} ({result['ok']} / {result['503']} / {result['other']} / "
            f"{result['transport_errors']})",
        ),
        ("refresh grants at the IdP", str(result["refresh_grants"])),
        ("**refresh tokens presented twice (reuse detections)**", f"**{result['refresh_reuse']}**"),
        ("**sessions lost**", f"**{result['sessions_lost']}**"),
        ("**expired access tokens served**", f"**{result['expired_served']}**"),
        (
            "anonymous GET /public on gunicorn while slow: p50 / p99",
            f"{result['anon_p50_slow_ms']:.1f} / {result['anon_p99_slow_ms']:.1f} ms "
            f"(otherwise p50 {result['anon_p50_normal_ms']:.1f} ms)",
        ),
    ]
    lines = ["| measure | result |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def write(doc_table: str) -> None:
    text = DOC.read_text()
    begin, end = "<!-- CHAOS:BEGIN -->", "<!-- CHAOS:END -->"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    DOC.write_text(f"{head}{begin}\n{doc_table}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--clients", type=int, default=24, help="concurrent load threads")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ttl", type=int, default=8, help="access-token lifetime (s)")
    parser.add_argument("--leeway", type=float, default=3.0)
    parser.add_argument("--late", type=float, default=11.0, help="token endpoint delay (s)")
    parser.add_argument("--fault-at", type=float, default=10.0)
    parser.add_argument("--fault-for", type=float, default=20.0)
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--uvicorn-workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="update docs/resilience.md")
    args = parser.parse_args()
    result = run(args)
    doc_table = table(result)
    print(doc_table)
    if args.write:
        write(doc_table)
    ok = result["refresh_reuse"] == 0 and result["sessions_lost"] == 0
    return 0 if ok and result["expired_served"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
