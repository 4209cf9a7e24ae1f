"""Hostile requests against both middlewares, in process, with a mock provider.

``requests()`` is a hypothesis strategy for requests around every route (sign-in,
callback, sign-out, back-channel logout, protected and public paths): odd paths
(slashes, dots, percent-encoding, non-ASCII), many and odd query fields, cookies (random,
mutated real session and transaction cookies, many, oversized), headers, methods and
bodies. ``Harness`` sends one to the WSGI or ASGI middleware over a memory or SQLite store
and checks the properties every answer must have:

* no exception escapes the middleware, and no 500 comes from our code;
* every header value can be encoded (latin-1, no CR/LF);
* a request that does not own a session never changes or ends one (Alice's session is in
  the store; no request carries her cookie);
* a signed-out request never reaches the app on a protected path, in any spelling;
* every ``Location`` stays on this site (a path under the mount prefix, or the app's own
  origin) or goes to the provider: no open redirect, whatever ``return_to`` says;
* every ``Set-Cookie`` names one of our cookies (never a name taken from the request) and
  carries the configured flags (``Path``, ``HttpOnly``, ``SameSite``).

A harness may run the app below a mount prefix (WSGI ``SCRIPT_NAME``, ASGI ``root_path``).

Used by ``tests/security/test_fuzz.py`` (short) and ``scripts/fuzz.py`` (long, seeded).
"""

from __future__ import annotations

import asyncio
import io
import json
import posixpath
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

import httpx
from hypothesis import strategies as st

from tests.support.mock_provider import provider_metadata
from thunderid_mw import (
    AsyncThunderIDClient,
    ThunderIDASGIMiddleware,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenSet
from thunderid_mw.stores import MemoryStore, SQLiteStore

ISSUER = "http://idp.fuzz"
APP = "http://app.fuzz"
SECRET = "fuzz-secret-0123456789-abcdefghijklmnop"
PROTECTED = ("/private", "/api")
COOKIE = "__thunderid__session"
ALICE = "A" * 43  # a session no fuzzed request owns
BOB = "B" * 43  # the fuzzer's own session: its requests may change it
FAR_FUTURE = 4_000_000_000.0


def mock_provider(request: httpx.Request) -> httpx.Response:
    """A provider that answers discovery and refuses every grant."""
    path = request.url.path
    if path.endswith("/.well-known/openid-configuration"):
        return httpx.Response(200, json=provider_metadata(ISSUER))
    if path == "/jwks":
        return httpx.Response(200, json={"keys": []})
    if path == "/revoke":
        return httpx.Response(200)
    return httpx.Response(400, json={"error": "invalid_grant"})


# Strategies ------------------------------------------------------------------------------

ROUTES = ["sign-in", "callback", "sign-out", "backchannel-logout", "private", "api", "public"]
SEGMENTS = st.one_of(
    st.sampled_from([*ROUTES, "", ".", "..", "%2F", "%2f", "%2e", "%2E%2E", "%252F", "%5C"]),
    st.sampled_from(["data", "x", "%00", "%80", "%C0%AF", "%E2%88%95", "\u00e9", "\u2215"]),
    st.text(min_size=1, max_size=6),
)
PATHS = st.lists(SEGMENTS, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))
OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "https:evil.example",
    "/\t/evil.example",
    "/%2F%2Fevil.example",
    "/\u3000/evil.example",
    "/x\r\nSet-Cookie: planted=1",
    "/x\nLocation: https://evil.example",
    "javascript:alert(1)",
]
QUERY_VALUES = st.one_of(
    st.sampled_from(["/private", "/%E2%88%95", "x" * 3000, *OPEN_REDIRECTS]),
    st.text(max_size=20),
)
QUERIES = st.lists(
    st.tuples(
        st.sampled_from(["return_to", "code", "state", "iss", "error", "csrf_token", "x"]),
        QUERY_VALUES,
    ),
    max_size=120,
)


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str  # the URL path as sent, percent-encoded or not
    query: tuple[tuple[str, str], ...]
    cookies: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    owns_bob: bool  # carries Bob's real cookie

    @property
    def query_string(self) -> str:
        return "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in self.query)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies)


def _mutate(value: str, data: st.DataObject) -> str:
    if not value:
        return "x"
    at = data.draw(st.integers(0, len(value) - 1))
    return value[:at] + data.draw(st.sampled_from('AZaz09-_;= "\u00e9')) + value[at + 1 :]


@st.composite
def requests(draw: st.DrawFn) -> FuzzRequest:
    data = draw(st.data())
    cookies: list[tuple[str, str]] = []
    owns_bob = False
    for _ in range(draw(st.integers(0, 4))):
        kinds = ["bob", "alice-mutated", "random", "tx", "sign-out-state", "many", "big"]
        kind = draw(st.sampled_from(kinds))
        if kind == "bob":
            cookies.append((COOKIE, BOB))
            owns_bob = True
        elif kind == "alice-mutated":
            cookies.append((COOKIE, _mutate(ALICE, data)))
        elif kind == "random":
            cookies.append((draw(st.sampled_from([COOKIE, "other"])), draw(st.text(max_size=60))))
        elif kind == "tx":
            suffix = draw(st.text(alphabet="ABCabc019-_;.\u00e9", min_size=0, max_size=20))
            cookies.append((f"{COOKIE}.tx.{suffix}", draw(st.text(max_size=80))))
        elif kind == "sign-out-state":  # the return from the provider's end-session
            cookies.append((COOKIE + ".so", draw(st.text(max_size=50))))
        elif kind == "many":
            cookies += [(f"c{n}", "v") for n in range(draw(st.integers(20, 200)))]
        else:
            cookies.append((COOKIE + ".tx.AAAAAAAAAAAAAAAA", "x" * draw(st.integers(4000, 20000))))
    headers = [
        ("accept", draw(st.sampled_from(["text/html", "application/json", "*/*", ""]))),
    ]
    if draw(st.booleans()):
        headers.append(("origin", draw(st.sampled_from([APP, "https://evil.example", "null"]))))
    if draw(st.booleans()):
        headers.append(("sec-fetch-site", draw(st.sampled_from(["same-origin", "cross-site"]))))
    if draw(st.booleans()):
        headers.append(("sec-fetch-mode", draw(st.sampled_from(["navigate", "cors"]))))
    method = draw(st.sampled_from(["GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]))
    body = b""
    if method == "POST":
        body = draw(
            st.one_of(
                st.binary(max_size=200),
                st.sampled_from([b"csrf_token=x", b"logout_token=a.b.c", b"logout_token=" * 2000]),
            )
        )
    return FuzzRequest(
        method=method,
        path=draw(PATHS),
        query=tuple(draw(QUERIES)),
        cookies=tuple(cookies),
        headers=tuple(headers),
        body=body,
        owns_bob=owns_bob,
    )


# The harness -----------------------------------------------------------------------------


def looks_protected(path: str) -> bool:
    """The test's own oracle: would any router take ``path`` (as the app receives it:
    servers decode it once) to a protected page? Routers may decode it again, read
    backslashes as slashes, merge slashes (Werkzeug, which leaves dot segments to a
    ``<path:...>`` converter) or also resolve dot segments."""
    forms = {path}
    for _ in range(3):
        forms |= {unquote(f) for f in forms}
    for form in list(forms):
        forms.add(form.replace("\\", "/"))
    for form in forms:
        merged = re.sub("/+", "/", "/" + form)
        normal = re.sub("/+", "/", posixpath.normpath(merged))
        for candidate in (merged, normal):
            for prefix in PROTECTED:
                if candidate == prefix or candidate.startswith(prefix + "/"):
                    return True
    return False


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    reached_app: bool
    app_saw_signed_in: bool


@dataclass
class Findings:
    requests: int = 0
    escapes: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    bad_headers: list[str] = field(default_factory=list)
    unowned_changes: list[str] = field(default_factory=list)
    protected_served: list[str] = field(default_factory=list)
    foreign_redirects: list[str] = field(default_factory=list)
    stray_cookies: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def clean(self) -> bool:
        return not (
            self.escapes
            or self.server_errors
            or self.bad_headers
            or self.unowned_changes
            or self.protected_served
            or self.foreign_redirects
            or self.stray_cookies
        )

    def summary(self, label: str) -> str:
        return (
            f"fuzz {label}: requests={self.requests} escapes={len(self.escapes)} "
            f"500s={len(self.server_errors)} bad_headers={len(self.bad_headers)} "
            f"unowned_changes={len(self.unowned_changes)} "
            f"protected_served={len(self.protected_served)} "
            f"foreign_redirects={len(self.foreign_redirects)} "
            f"stray_cookies={len(self.stray_cookies)} "
            f"statuses={dict(sorted(self.statuses.items()))}"
        )


class Harness:
    """One middleware (``wsgi`` or ``asgi``) over one store (``memory`` or ``sqlite``),
    the app at the site's root or below ``mount`` (e.g. ``/app``)."""

    def __init__(self, adapter: str, store: str, mount: str = ""):
        self.adapter = adapter
        self.mount = mount
        self._tmp = tempfile.TemporaryDirectory()
        backend = MemoryStore() if store == "memory" else SQLiteStore(f"{self._tmp.name}/s.sqlite3")
        self.config = ThunderIDConfig(
            client_id="app",
            client_secret="app-secret",
            base_url=ISSUER,
            after_sign_in_url=APP + mount + "/callback",
            secret=SECRET,
            store=backend,
            protected_paths=PROTECTED,
        )
        self.findings = Findings()
        self._loop = asyncio.new_event_loop()
        transport = httpx.MockTransport(mock_provider)
        self._sync_client = ThunderIDClient(self.config, http=httpx.Client(transport=transport))
        if adapter == "wsgi":
            self.wsgi = ThunderIDWSGIMiddleware(self._wsgi_app, self._sync_client)
        else:
            client = AsyncThunderIDClient(self.config, http=httpx.AsyncClient(transport=transport))
            self.asgi = ThunderIDASGIMiddleware(self._asgi_app, client)
        self.store = backend
        self._alice_key = self._sync_client._session_key(ALICE)
        self._bob_key = self._sync_client._session_key(BOB)
        self._reached: tuple[bool, bool] = (False, False)

    def close(self) -> None:
        self._loop.close()
        self._tmp.cleanup()

    # Sessions the fuzzer works around --------------------------------------------------

    def _ensure_session(self, session_id: str, sub: str) -> None:
        key = self._sync_client._session_key(session_id)
        item = self.store.load(key)
        if item is not None:
            record = self._sync_client._codec.decode(item.data, key)
            if record is not None and record.ended is None:
                return
        record = SessionRecord(
            tokens=TokenSet("at-" + sub, expires_at=FAR_FUTURE, refresh_token="rt-" + sub),
            claims={"sub": sub},
            created_at=FAR_FUTURE - 1000,
            last_seen=FAR_FUTURE - 1000,
            absolute_expires_at=FAR_FUTURE,
        )
        self._sync_client._run(self._sync_client._env.save(key, record, None))

    def _alice_state(self) -> bytes | None:
        item = self.store.load(self._alice_key)
        return None if item is None else item.data + str(item.version).encode()

    # The apps behind the middleware ----------------------------------------------------

    def _wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self._reached = (True, environ["thunderid"].is_signed_in)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app"]

    async def _asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
        self._reached = (True, scope["thunderid"].is_signed_in)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    # One request --------------------------------------------------------------------------

    def send(self, request: FuzzRequest) -> None:
        self._ensure_session(ALICE, "alice")
        self._ensure_session(BOB, "bob")
        before = self._alice_state()
        self._reached = (False, False)
        label = f"{request.method} {request.path!r}?{request.query_string[:80]!r}"
        self.findings.requests += 1
        try:
            answer = (
                self._send_wsgi(request) if self.adapter == "wsgi" else self._send_asgi(request)
            )
        except Exception as exc:  # the property: nothing escapes
            self.findings.escapes.append(f"{label}: {type(exc).__name__}: {exc}")
            return
        self.findings.statuses[answer.status] += 1
        if answer.status >= 500 and answer.status != 503 and answer.status != 502:
            self.findings.server_errors.append(f"{label}: {answer.status}")
        for name, value in answer.headers:
            try:
                value.encode("latin-1")
                name.encode("ascii")
            except UnicodeEncodeError:
                self.findings.bad_headers.append(f"{label}: {name}: {value!r}")
                continue
            if "\r" in value or "\n" in value:
                self.findings.bad_headers.append(f"{label}: {name}: {value!r}")
        self._check_redirects_and_cookies(label, answer.headers)
        if self._alice_state() != before:
            self.findings.unowned_changes.append(label)
        reached, signed_in = answer.reached_app, answer.app_saw_signed_in
        received = unquote(request.path, errors="replace")  # what the server hands the app
        if reached and not signed_in and looks_protected(received):
            self.findings.protected_served.append(label)

    def _check_redirects_and_cookies(self, label: str, headers: list[tuple[str, str]]) -> None:
        for name, value in headers:
            if name.lower() == "location" and not self._stays_on_site(value):
                self.findings.foreign_redirects.append(f"{label}: {value!r}")
            if name.lower() == "set-cookie" and not self._is_our_cookie(value):
                self.findings.stray_cookies.append(f"{label}: {value!r}")

    def _stays_on_site(self, location: str) -> bool:
        """The test's own idea of a safe redirect: the provider, the app's own origin, or
        a path under the mount that no browser reads as another host."""
        if location.startswith((ISSUER + "/", APP + "/")):
            return True
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in location) or "\\" in location:
            return False
        own = self.mount + "/"
        return location.startswith(own) and not location[len(own) :].startswith("/")

    @staticmethod
    def _is_our_cookie(set_cookie: str) -> bool:
        first, *attributes = [part.strip() for part in set_cookie.split(";")]
        name = first.partition("=")[0]
        ours = name in (COOKIE, COOKIE + ".so") or re.fullmatch(
            re.escape(COOKIE) + r"\.tx\.[A-Za-z0-9_-]{16}", name
        )
        return bool(ours) and {"Path=/", "HttpOnly", "SameSite=Lax"} <= set(attributes)

    def _send_wsgi(self, request: FuzzRequest) -> Answer:
        path_bytes = unquote_to_bytes(request.path.encode("utf-8", "surrogatepass"))
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": self.mount,
            "PATH_INFO": path_bytes.decode("latin-1"),
            "QUERY_STRING": request.query_string,
            "SERVER_NAME": "app.fuzz",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "CONTENT_LENGTH": str(len(request.body)),
        }
        if request.cookies:
            environ["HTTP_COOKIE"] = request.cookie_header.encode("utf-8").decode("latin-1")
        for name, value in request.headers:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured.append((status, headers))

        body = b"".join(self.wsgi(environ, start_response))
        status, headers = captured[0]
        del body
        return Answer(int(status.split()[0]), list(headers), *self._reached)

    def _send_asgi(self, request: FuzzRequest) -> Answer:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers]
        if request.cookies:
            headers.append((b"cookie", request.cookie_header.encode("utf-8")))
        raw_path = request.path.encode("utf-8", "surrogatepass")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            # ASGI servers put the mount in both path and root_path.
            "path": self.mount + unquote(request.path, errors="replace"),
            "raw_path": self.mount.encode() + raw_path,
            "root_path": self.mount,
            "query_string": request.query_string.encode("ascii"),
            "headers": headers,
            "server": ("app.fuzz", 80),
            "client": ("127.0.0.1", 5000),
        }
        sent: list[MutableMapping[str, Any]] = []
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if body_sent:
                return {"type": "http.disconnect"}
            body_sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        self._loop.run_until_complete(self.asgi(scope, receive, send))
        start = sent[0]
        decoded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        return Answer(start["status"], decoded, *self._reached)


def describe(findings: Findings, limit: int = 5) -> str:
    """The first few findings of each kind, for an assertion message."""
    parts = {
        "escapes": findings.escapes[:limit],
        "500s": findings.server_errors[:limit],
        "bad_headers": findings.bad_headers[:limit],
        "unowned_changes": findings.unowned_changes[:limit],
        "protected_served": findings.protected_served[:limit],
        "foreign_redirects": findings.foreign_redirects[:limit],
        "stray_cookies": findings.stray_cookies[:limit],
    }
    return json.dumps({k: v for k, v in parts.items() if v}, indent=1)
