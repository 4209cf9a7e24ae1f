"""Redis unavailable: stopped, or paused with ``CLIENT PAUSE``.

gunicorn (2 workers) and uvicorn share a private redis-server with persistence on (AOF,
fsync always), through ``redis://…?socket_timeout=0.5&socket_connect_timeout=0.5``. While
Redis is away, a request with a session cookie gets a clean 503 with ``Retry-After`` (JSON
for an API, a page for a browser; never a 500 or a traceback), a callback cannot complete but
fails cleanly too, and pages without a cookie are served as usual. No process dies. When
Redis is back, every session works again with the same tokens, without signing in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.redis.harness import (
    COOKIE,
    PrivateRedis,
    get,
    poll,
    sign_in_many,
    start_pair,
    token_at,
)
from tests.support.idp import IdP
from tests.support.redis_server import _find_binary
from tests.support.servers import Server

PAUSE_MS = 6000  # long enough for the requests below, each failing after 0.5 s
PREFIX = "outage:"


@dataclass
class Outage:
    redis: PrivateRedis
    wsgi: Server
    asgi: Server
    sessions: list[tuple[str, str, str]]  # (cookie, username, access token before)

    @property
    def urls(self) -> tuple[str, str]:
        return self.wsgi.url, self.asgi.url

    def pids(self) -> dict[str, list[int]]:
        return {
            "gunicorn": sorted(self.wsgi.worker_pids()),
            "uvicorn": [self.asgi.process.pid],
        }


@pytest.fixture(scope="module")
def outage(idp: IdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    binary = _find_binary()
    if binary is None:
        pytest.fail("redis-server is not installed: run `make setup`", pytrace=False)
    workdir: Path = tmp_path_factory.mktemp("redis-outage")
    server = PrivateRedis(binary, workdir)
    server.start()
    store_url = (
        f"redis://127.0.0.1:{server.port}/0"
        f"?socket_timeout=0.5&socket_connect_timeout=0.5&prefix={PREFIX}"
    )
    try:
        wsgi, asgi = start_pair(idp, store_url, workdir, wsgi_workers=2, asgi_workers=1)
        try:
            targets = [(url, user) for url in (wsgi.url, asgi.url) for user in ("alice", "bob")]
            cookies = sign_in_many(idp, targets)
            sessions = [
                (c, user, token_at(wsgi.url, c))
                for c, (_, user) in zip(cookies, targets, strict=True)
            ]
            yield Outage(server, wsgi, asgi, sessions)
        finally:
            wsgi.stop()
            asgi.stop()
    finally:
        server.stop()


def _during_outage(o: Outage, idp: IdP) -> None:
    """What every server answers while Redis is away (asserted)."""
    # A callback with a real code: the IdP login works, but the session cannot be stored.
    with httpx.Client(timeout=10) as browser, httpx.Client(base_url=o.wsgi.url, timeout=10) as rp:
        start = rp.get("/sign-in", params={"return_to": "/private"})
        assert start.status_code == 302
        callback = idp.login(browser, start.headers["location"], "alice")
        callback_path = callback[len(o.wsgi.url) :]

        def do_callback() -> httpx.Response:
            return rp.get(callback_path, headers={"Accept": "text/html"})

        checks: list[tuple[str, object]] = []
        with ThreadPoolExecutor(max_workers=24) as pool:
            futures = []
            for url in o.urls:
                futures.append(("public", pool.submit(get, url, None, "/public", api=False)))
                for cookie, _, _ in o.sessions:
                    futures.append(("api", pool.submit(get, url, cookie, "/api/whoami")))
                    futures.append(("page", pool.submit(get, url, cookie, "/private", api=False)))
            futures.append(("callback", pool.submit(do_callback)))
            checks = [(kind, f.result(timeout=30)) for kind, f in futures]

    for kind, response in checks:
        assert isinstance(response, httpx.Response)
        text = response.text
        assert "Traceback" not in text and "StoreUnavailable" not in text, text
        if kind == "public":
            assert response.status_code == 200, text
            assert "signed_in=False" in text
            continue
        assert response.status_code == 503, (kind, response.status_code, text[:500])
        assert response.headers.get("retry-after", "").isdigit(), response.headers
        if kind == "api":
            body = response.json()
            assert body["error"] == "temporarily_unavailable", body
            assert "session store" in str(body).lower(), body
        else:
            assert response.headers["content-type"].startswith("text/html"), response.headers
        if kind == "callback":  # the code is spent: a new sign-in, not a retry of this URL
            assert "Please sign in again shortly" in text and 'href="/sign-in' in text, text
        # Nothing is cleared or set: the session cookies still name sessions that will be
        # there when Redis is back.
        assert "set-cookie" not in response.headers, (kind, response.headers)


def _all_sessions_work(o: Outage) -> None:
    for url in o.urls:
        for cookie, user, token in o.sessions:
            response = get(url, cookie, "/private", api=False)
            assert response.status_code == 200, response.text
            assert f"sub=user-{user}" in response.text
            assert token_at(url, cookie) == token


def _nothing_crashed(o: Outage, pids: dict[str, list[int]]) -> None:
    assert o.wsgi.process.poll() is None and o.asgi.process.poll() is None
    assert o.pids() == pids, "a worker process died and was replaced"
    for server in (o.wsgi, o.asgi):
        assert "Traceback" not in server.log(), server.log()


def test_paused_redis(outage: Outage, idp_reset: IdP) -> None:
    _all_sessions_work(outage)
    pids = outage.pids()

    pause_over = time.monotonic() + PAUSE_MS / 1000
    outage.redis.pause(PAUSE_MS)
    try:
        _during_outage(outage, idp_reset)
    finally:
        # Wait the pause out (with Redis 7.0 nothing ends it early without a restart).
        delay = pause_over - time.monotonic() + 0.2
        if delay > 0:
            time.sleep(delay)
        outage.redis.end_pause()

    _all_sessions_work(outage)
    _nothing_crashed(outage, pids)


def test_stopped_then_started_redis(outage: Outage, idp_reset: IdP) -> None:
    _all_sessions_work(outage)
    pids = outage.pids()

    outage.redis.stop()
    try:
        _during_outage(outage, idp_reset)
    finally:
        outage.redis.start()  # the same port; the data comes back from its append-only file

    _all_sessions_work(outage)
    _nothing_crashed(outage, pids)


def test_requests_in_flight_when_redis_goes_away(outage: Outage) -> None:
    """Requests keep arriving on keep-alive connections while Redis stops and starts: each
    gets 200 or 503, never anything else, and every client is served again afterwards."""
    pids = outage.pids()
    stop = threading.Event()
    seen: list[list[tuple[float, int]]] = []  # per client: (monotonic time, status)

    def hammer(url: str, cookie: str, log: list[tuple[float, int]]) -> None:
        headers = {"Cookie": f"{COOKIE}={cookie}", "Accept": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            for _ in range(5000):  # bounded; ends long before, when stop is set
                if stop.is_set():
                    return
                log.append((time.monotonic(), http.get("/api/whoami").status_code))
                time.sleep(0.01)

    def every_client_saw(status: int, since: float) -> bool:
        return all(any(t > since and s == status for t, s in log) for log in seen)

    threads = []
    for url in outage.urls:
        for cookie, _, _ in outage.sessions[:2]:
            seen.append([])
            threads.append(threading.Thread(target=hammer, args=(url, cookie, seen[-1])))
    for t in threads:
        t.start()
    try:
        poll(lambda: every_client_saw(200, 0.0), timeout=10)
        stopped_at = time.monotonic()
        outage.redis.stop()
        poll(lambda: every_client_saw(503, stopped_at), timeout=10)
        started_at = time.monotonic()
        outage.redis.start()
        poll(lambda: every_client_saw(200, started_at), timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    statuses = {s for log in seen for _, s in log}
    assert statuses == {200, 503}, statuses
    _all_sessions_work(outage)
    _nothing_crashed(outage, pids)
