"""Helpers of the token tests: the test apps under real servers (``App``), in-process
clients, stored records, the IdP's view of refreshes, and concurrent callers. Everything
runs against the real test IdP (rotation + reuse detection on). Waits are bounded; no test
asserts how long something took. The fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.idp import IdP
from tests.support.servers import TEST_SECRET, Server, session_cookie
from tests.support.servers import sign_in as server_sign_in
from tests.support.waits import asleep_until
from thunderid_mw import AsyncThunderIDClient, ThunderIDClient, ThunderIDConfig
from thunderid_mw.core.crypto import Keys
from thunderid_mw.core.records import RecordCodec
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.stores import MemoryStore

API = {"Accept": "application/json"}

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}

COOKIE_NAME = "__thunderid__session"

WSGI_APP = "tests.apps.wsgi_app:app"

ASGI_APP = "tests.apps.asgi_app:app"

CLIENT_REDIRECT = "http://127.0.0.1:9/callback"  # never called: the tests read the code


def revoke_at_idp(idp: IdP, token: str, hint: str = "refresh_token") -> None:
    """Revoke ``token`` at the IdP as an administrator or another app of the client would."""
    response = httpx.post(
        idp.metadata["revocation_endpoint"],
        data={"token": token, "token_type_hint": hint},
        auth=(idp.conf_client_id, idp.conf_client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def refresh_at_idp(idp: IdP, refresh_token: str) -> httpx.Response:
    """Use ``refresh_token`` directly (as a thief would)."""
    return httpx.post(
        idp.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(idp.conf_client_id, idp.conf_client_secret),
        timeout=10,
    )


def refresh_counts(idp: IdP) -> tuple[int, int]:
    """(refresh-token grants answered, refresh tokens reused)."""
    return idp.refresh_grants(), int(idp.counts()["refresh_reuse"])


KEYS = Keys.from_secret(TEST_SECRET)

CODEC = RecordCodec(KEYS, True)


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def stored_row(path: Path, session_id: str) -> tuple[int, bytes] | None:
    """(version, data) of the session's row in the SQLite file, read-only."""
    key = KEYS.store_key_for("s", session_id)
    with _connect_ro(path) as db:
        row = db.execute("SELECT version, data FROM sessions WHERE key = ?", (key,)).fetchone()
    db.close()
    return None if row is None else (int(row[0]), bytes(row[1]))


def stored_record(path: Path, session_id: str) -> SessionRecord:
    row = stored_row(path, session_id)
    assert row is not None, "the session is not in the store"
    record = CODEC.decode(row[1], KEYS.store_key_for("s", session_id))
    assert record is not None
    return record


def client_record(client: ThunderIDClient | AsyncThunderIDClient, session_id: str) -> SessionRecord:
    """The session's record as the in-process client's store holds it (sync stores only)."""
    key = client._session_key(session_id)
    item = client._store.load(key)
    assert item is not None
    record = client._codec.decode(item.data, key)
    assert record is not None
    return record


@dataclass
class App:
    server: Server
    store_path: Path
    cookie: str  # the session cookie value of the signed-in user ("" before sign-in)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE_NAME}={self.cookie}"}

    def get(self, path: str, *, api: bool = True, **kw: Any) -> httpx.Response:
        """One request carrying the cookie explicitly (a cleared cookie is not forgotten)."""
        headers = {**self.cookie_header, **(API if api else BROWSER), **kw.pop("headers", {})}
        return httpx.get(self.url + path, headers=headers, timeout=30, **kw)

    def token(self) -> str:
        response = self.get("/api/token")
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def expires_at(self) -> float:
        response = self.get("/api/whoami")
        assert response.status_code == 200, response.text
        value: float = response.json()["expires_at"]
        return value

    def sign_in(self, idp: IdP, username: str = "alice") -> None:
        """Sign in through the app's routes and the IdP's login form; keep the cookie."""
        rp = server_sign_in(self.url, idp, username)
        try:
            self.cookie = session_cookie(rp)
        finally:
            rp.close()


def sign_out_with_form(app: App) -> httpx.Response:
    """Confirm sign-out as the browser would: GET the form, POST it back."""
    page = app.get("/sign-out", api=False)
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return httpx.post(
        app.url + "/sign-out",
        data={"csrf_token": match.group(1)},
        headers={**app.cookie_header, **BROWSER, "Origin": app.url},
        timeout=30,
    )


def fire_threads(
    app: App, path: str, n: int, *, before: Callable[[], None] | None = None
) -> list[httpx.Response]:
    """``n`` threads, each on its own warm keep-alive connection, GET ``path`` at once
    (a barrier releases them together) after ``before()`` has run."""
    clients = [
        httpx.Client(base_url=app.url, headers={**app.cookie_header, **API}, timeout=30)
        for _ in range(n)
    ]
    try:
        # Open every connection now, so the burst below is n requests, not n handshakes.
        warm = [threading.Thread(target=c.get, args=("/public",)) for c in clients]
        for t in warm:
            t.start()
        for t in warm:
            t.join(10)
        if before is not None:
            before()
        barrier = threading.Barrier(n, timeout=10)
        results: list[httpx.Response | BaseException | None] = [None] * n

        def run(i: int) -> None:
            try:
                barrier.wait()
                results[i] = clients[i].get(path)
            except BaseException as exc:
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        out = []
        for r in results:
            if not isinstance(r, httpx.Response):
                raise AssertionError(f"a concurrent request failed: {r!r}")
            out.append(r)
        return out
    finally:
        for c in clients:
            c.close()


async def fire_tasks(
    app: App, path: str, n: int, *, expires_at: float | None = None
) -> list[httpx.Response]:
    """``n`` asyncio tasks GET ``path`` at once over warm connections (asyncio.gather)."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=60)
    async with httpx.AsyncClient(
        base_url=app.url, headers={**app.cookie_header, **API}, timeout=30, limits=limits
    ) as http:
        await asyncio.gather(*(http.get("/public") for _ in range(n)))
        if expires_at is not None:
            await asleep_until(expires_at)
        return list(await asyncio.gather(*(http.get(path) for _ in range(n))))


def client_config(idp: IdP, **changes: Any) -> ThunderIDConfig:
    values: dict[str, Any] = {
        "base_url": idp.issuer,
        "client_id": idp.conf_client_id,
        "client_secret": idp.conf_client_secret,
        "after_sign_in_url": CLIENT_REDIRECT,
        "secret": TEST_SECRET,
        "store": MemoryStore(),
        "refresh_leeway": 0,
    }
    if idp.ca_path:
        values["ca_bundle"] = idp.ca_path
    values.update(changes)
    return ThunderIDConfig(**values)


def _callback_params(location: str) -> dict[str, str]:
    assert location.startswith(CLIENT_REDIRECT + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def client_sign_in(
    client: ThunderIDClient, idp: IdP, session_id: str, username: str = "alice"
) -> None:
    """Node SDK style: sign-in URL, the user logs in at the IdP, ``sign_in`` with the code."""
    url = client.get_sign_in_url(session_id)
    with httpx.Client(timeout=10, verify=idp.verify) as browser:
        params = _callback_params(idp.login(browser, url, username))
    ctx = client.sign_in(session_id, params["code"], params["state"], iss=params.get("iss"))
    assert ctx.is_signed_in


async def aclient_sign_in(
    client: AsyncThunderIDClient, idp: IdP, session_id: str, username: str = "alice"
) -> None:
    url = await client.get_sign_in_url(session_id)

    def login() -> str:
        with httpx.Client(timeout=10, verify=idp.verify) as browser:
            return idp.login(browser, url, username)

    params = _callback_params(await asyncio.to_thread(login))
    ctx = await client.sign_in(session_id, params["code"], params["state"], iss=params.get("iss"))
    assert ctx.is_signed_in


@asynccontextmanager
async def async_client(idp: IdP, **changes: Any) -> AsyncIterator[AsyncThunderIDClient]:
    """An AsyncThunderIDClient on the test IdP, closed on exit (in the test's own loop)."""
    client = AsyncThunderIDClient(client_config(idp, **changes))
    try:
        yield client
    finally:
        await client.aclose()
