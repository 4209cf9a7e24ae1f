"""Helpers of the Redis tests (real redis-server, real IdP, real app servers):

* ``Pair``: the WSGI test app under gunicorn (4 workers) and the ASGI test app under uvicorn
  (2 workers), on two ports, sharing the session Redis server (key prefix ``pair:``) and the
  secret, with ``THUNDERID_REFRESH_LEEWAY=0``; sign-ins and storms against them.
* ``PrivateRedis``: a redis-server of a test's own, with AOF persistence (so a session
  survives a stop and a start), and optionally a unix socket and a TLS port.
* reading sessions and leases straight from Redis.

Every wait is bounded; no test asserts how long something took. The fixtures are in
conftest.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.docs import APP, BROWSER
from tests.support.idp import IdP
from tests.support.mock_provider import ISSUER, MockProvider
from tests.support.redis_server import RedisServer
from tests.support.servers import TEST_SECRET, Server, app_env, free_port, start_server
from tests.support.waits import asleep_until
from thunderid_mw import ThunderIDClient, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.context import CONTEXT_KEY
from thunderid_mw.core.crypto import Keys
from thunderid_mw.core.records import RecordCodec
from thunderid_mw.core.refresh import refresh_lock_name
from thunderid_mw.core.session import SessionRecord

COOKIE = "__thunderid__session"

API = {"Accept": "application/json"}

WSGI_APP = "tests.apps.wsgi_app:app"

ASGI_APP = "tests.apps.asgi_app:app"

GUNICORN_ARGS = ("--keep-alive", "30")

UVICORN_ARGS = ("--timeout-keep-alive", "30")

PAIR_PREFIX = "pair:"

SHORT_TTL = 2  # seconds: the access token of a session about to be stormed

KEYS = Keys.from_secret(TEST_SECRET)

CODEC = RecordCodec(KEYS, True)


def poll(
    check: Callable[[], Any],
    timeout: float,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
    what: str = "condition",
) -> Any:
    """Call ``check`` until it returns something truthy (returned); fail after ``timeout``.
    An exception in ``ignore`` (a server still starting) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except ignore as exc:
            value = exc
        if value and not isinstance(value, BaseException):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def store_key(session_id: str) -> str:
    """The store key of a session (an HMAC of its id, as the middleware derives it)."""
    return KEYS.store_key_for("s", session_id)


def redis_session_key(prefix: str, session_id: str) -> str:
    return f"{prefix}s:{store_key(session_id)}"


def redis_lease_key(prefix: str, session_id: str) -> str:
    return f"{prefix}l:{refresh_lock_name(store_key(session_id))}"


def stored_record(raw: redis.Redis, prefix: str, session_id: str) -> SessionRecord:
    """The session's record as stored in Redis, decrypted with the test secret."""
    data = raw.hget(redis_session_key(prefix, session_id), "d")
    assert data is not None, "the session is not in Redis"
    record = CODEC.decode(bytes(data), store_key(session_id))  # type: ignore[arg-type]
    assert record is not None, "the stored session does not decrypt with the secret"
    return record


def refresh_counts(idp: IdP) -> tuple[int, int]:
    """(refresh-token grants the IdP answered, refresh tokens presented again)."""
    return idp.refresh_grants(), int(idp.counts()["refresh_reuse"])


def sign_in_with(browser: httpx.Client, app_url: str, idp: IdP, username: str) -> str:
    """Sign in at ``app_url`` with ``browser`` (which keeps the IdP's cookies: after its first
    login the IdP answers with a redirect, no form); return the session cookie's value."""
    with httpx.Client(base_url=app_url, timeout=30) as rp:
        response = rp.get("/sign-in", params={"return_to": "/private"})
        assert response.status_code == 302, response.text
        callback = idp.login(browser, response.headers["location"], username)
        assert callback.startswith(app_url + "/"), callback
        response = rp.get(callback[len(app_url) :])
        assert response.status_code == 302, response.text
        assert response.headers["location"] == "/private"
        cookie = rp.cookies.get(COOKIE)
    assert cookie, "no session cookie after sign-in"
    return cookie


def sign_in_many(idp: IdP, targets: Sequence[tuple[str, str]], threads: int = 8) -> list[str]:
    """Sign in one session per ``(app_url, username)``, ``threads`` at a time; each thread
    keeps one IdP browser session per user. Returns the cookies in order."""
    cookies: list[str | None] = [None] * len(targets)
    local = threading.local()
    made: list[httpx.Client] = []
    made_lock = threading.Lock()

    def one(i: int) -> None:
        app_url, username = targets[i]
        browsers: dict[str, httpx.Client] = local.__dict__.setdefault("browsers", {})
        if username not in browsers:
            browsers[username] = httpx.Client(timeout=30)
            with made_lock:
                made.append(browsers[username])
        cookies[i] = sign_in_with(browsers[username], app_url, idp, username)

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(one, i) for i in range(len(targets))]:
                future.result(timeout=60)
    finally:
        for browser in made:
            browser.close()
    assert all(cookies)
    return [c for c in cookies if c]


def get(url: str, cookie: str | None, path: str, *, api: bool = True, **kw: Any) -> httpx.Response:
    """One request, carrying the session cookie explicitly."""
    headers = dict(API) if api else {"Accept": "text/html"}
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    headers.update(kw.pop("headers", {}))
    return httpx.get(url + path, headers=headers, timeout=30, **kw)


def token_at(url: str, cookie: str) -> str:
    response = get(url, cookie, "/api/token")
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def sign_out(url: str, cookie: str) -> httpx.Response:
    """POST /sign-out with the session's CSRF token, as the app's sign-out form does."""
    return httpx.post(
        url + "/sign-out",
        data={"csrf_token": KEYS.csrf_token(cookie)},
        headers={"Cookie": f"{COOKIE}={cookie}"},
        timeout=30,
    )


def check_sign_in_shared_and_signed_out(idp: IdP, store_url: str, log_dir: Path) -> None:
    """gunicorn (WSGI) and uvicorn (ASGI), one worker each, on ``store_url``: a sign-in
    through the test IdP on each, the session then used on the other server, and signed
    out there, after which the server it was made on refuses it."""
    wsgi, asgi = start_pair(idp, store_url, log_dir, wsgi_workers=1, asgi_workers=1)
    try:
        for home, other in ((wsgi.url, asgi.url), (asgi.url, wsgi.url)):
            (cookie,) = sign_in_many(idp, [(home, "bob")])
            for url in (home, other):
                whoami = get(url, cookie, "/api/whoami")
                assert whoami.status_code == 200, (url, whoami.text)
                assert whoami.json()["sub"] == idp.subjects["bob"]
            assert token_at(home, cookie) == token_at(other, cookie)
            response = sign_out(other, cookie)
            assert response.status_code == 303, response.text
            ended = get(home, cookie, "/api/whoami")
            assert ended.status_code == 401, (home, ended.text)
    finally:
        wsgi.stop()
        asgi.stop()


async def storm(
    plan: Sequence[tuple[str, str]],
    *,
    at: float,
    path: str = "/api/token",
    connections_per_server: int = 50,
) -> list[httpx.Response]:
    """Send one GET ``path`` per ``(server_url, cookie)`` of ``plan``, all at once, once the
    wall clock passes ``at``. Each server gets its own pool of ``connections_per_server``
    keep-alive connections, opened before ``at``, so the burst is requests, not handshakes."""
    urls = sorted({url for url, _ in plan})
    limits = httpx.Limits(
        max_connections=connections_per_server,
        max_keepalive_connections=connections_per_server,
        keepalive_expiry=60,
    )
    clients = {
        url: httpx.AsyncClient(base_url=url, headers=API, timeout=40, limits=limits) for url in urls
    }
    try:
        await asyncio.gather(
            *(c.get("/public") for c in clients.values() for _ in range(connections_per_server))
        )
        await asleep_until(at)
        results = await asyncio.gather(
            *(
                clients[url].get(path, headers={"Cookie": f"{COOKIE}={cookie}"})
                for url, cookie in plan
            ),
            return_exceptions=True,
        )
    finally:
        for c in clients.values():
            await c.aclose()
    failed = [r for r in results if not isinstance(r, httpx.Response)]
    assert not failed, f"{len(failed)} requests failed, e.g. {failed[0]!r}"
    return [r for r in results if isinstance(r, httpx.Response)]


@dataclass
class Pair:
    wsgi: Server  # gunicorn, 4 workers
    asgi: Server  # uvicorn, 2 workers
    store_url: str
    prefix: str

    @property
    def urls(self) -> tuple[str, str]:
        return self.wsgi.url, self.asgi.url


def start_pair(
    idp: IdP,
    store_url: str,
    log_dir: Path,
    *,
    wsgi_workers: int,
    asgi_workers: int,
    **extra: str,
) -> tuple[Server, Server]:
    """gunicorn (WSGI app) and uvicorn (ASGI app) on two ports, started in parallel."""
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                start_server,
                "gunicorn",
                WSGI_APP,
                app_env(idp, ports[0], store_url, **extra),
                port=ports[0],
                workers=wsgi_workers,
                log_dir=log_dir,
                extra_args=GUNICORN_ARGS,
            ),
            pool.submit(
                start_server,
                "uvicorn",
                ASGI_APP,
                app_env(idp, ports[1], store_url, **extra),
                port=ports[1],
                workers=asgi_workers,
                log_dir=log_dir,
                extra_args=UVICORN_ARGS,
            ),
        ]
        started: list[Server] = []
        errors: list[BaseException] = []
        for future in futures:
            try:
                started.append(future.result(timeout=90))
            except BaseException as exc:
                errors.append(exc)
    if errors:
        for server in started:
            server.stop()
        raise errors[0]
    return started[0], started[1]


class PrivateRedis(RedisServer):
    """A redis-server that keeps its data across a stop and a start (append-only file,
    fsync on every write), optionally also on a unix socket and a TLS port."""

    def __init__(
        self,
        binary: str,
        directory: Path,
        *,
        unix_socket: Path | None = None,
        tls: tuple[Path, Path] | None = None,  # (certificate, key); the cert is the CA
    ) -> None:
        super().__init__(binary, directory)
        self.unix_socket = unix_socket
        self.tls = tls
        self.tls_port = free_port() if tls else None

    def arguments(self) -> list[str]:
        args = super().arguments()
        args[args.index("--appendonly") + 1] = "yes"
        args += ["--appendfsync", "always"]
        if self.unix_socket is not None:
            args += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        if self.tls is not None:
            cert, key = self.tls
            args += [
                "--tls-port", str(self.tls_port),
                "--tls-cert-file", str(cert),
                "--tls-key-file", str(key),
                "--tls-ca-cert-file", str(cert),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        return args


# -- two middleware "hosts" on one store ----------------------------------------------


def two_hosts(provider: MockProvider, store_url: str) -> list[httpx.Client]:
    """Two middleware instances ("hosts") on one store, answering with the access token."""
    config = ThunderIDConfig(
        base_url=ISSUER,
        client_id="app",
        client_secret="app-secret",
        after_sign_in_url=APP + "/callback",
        secret=TEST_SECRET,
        store=store_url,
        protected_paths=("/private",),
        refresh_leeway=0,
    )

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(environ[CONTEXT_KEY].access_token).encode()]

    made = []
    for _ in range(2):
        client = ThunderIDClient(config, http=httpx.Client(transport=provider.transport()))
        app = ThunderIDWSGIMiddleware(inner, client)
        made.append(httpx.Client(transport=httpx.WSGITransport(app=app), base_url=APP))
    return made


def storm_of_hosts(
    hosts: list[httpx.Client], cookie: dict[str, str], during: Callable[[], None] = lambda: None
) -> list[httpx.Response]:
    """10 requests of the session ``cookie`` from each host at once, running ``during``
    meanwhile; every answer."""
    answers: list[httpx.Response] = []
    cookie_header = "; ".join(f"{name}={value}" for name, value in cookie.items())

    def request(http: httpx.Client) -> None:
        answers.append(http.get("/private", headers={**BROWSER, "Cookie": cookie_header}))

    threads = [threading.Thread(target=request, args=(h,)) for h in hosts * 10]
    for thread in threads:
        thread.start()
    during()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == len(threads)
    return answers
