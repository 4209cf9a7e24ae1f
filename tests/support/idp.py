"""Pytest plugin: the Node test identity provider (tests/idp/server.js) as fixtures.

Fixtures:
    idp       (session)  the IdP over plain HTTP
    idp_tls   (session)  a second IdP over HTTPS with a self-signed certificate (``ca_path``)
    idp_reset (function) ``idp``, with counters/failure modes reset before and after the test
                         and the access-token TTL restored afterwards
    idp_thunderid (session) the IdP's ThunderID profile (IDP_PROFILE=thunderid, see
                         tests/idp/thunderid.js) over HTTPS with a self-signed certificate
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc.jwk import ECKey

REPO_ROOT = Path(__file__).resolve().parents[2]
IDP_DIR = REPO_ROOT / "tests" / "idp"
SERVER_JS = IDP_DIR / "server.js"
DEFAULT_ACCESS_TOKEN_TTL = 300
START_TIMEOUT = 60.0  # node on a loaded 2-core machine can take this long


class IdPError(RuntimeError):
    """The test IdP could not start or a scripted browser step failed."""


class LoginFailed(IdPError):
    """The IdP re-rendered its login page (wrong username or password)."""


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Collects <form>s with their named <input> values (enough for the IdP's pages)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self.error: str | None = None
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif a.get("id") == "error":
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error = (self.error or "") + data


# A scripted step at an IdP page: the form to post as (url, data), a final URL to return,
# or None when the page is unexpected.
_Step = tuple[str, dict[str, str]] | str | None
_Submit = Callable[[httpx.Response, _FormParser], _Step]


def _parse_page(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


@dataclass(repr=False)
class IdP:
    """A running test IdP plus helpers to drive and inspect it."""

    issuer: str
    process: subprocess.Popen[bytes] | subprocess.Popen[str]
    log_path: Path
    ca_path: str | None = None

    conf_client_id: str = "conf-client"
    conf_client_secret: str = "conf-secret"
    conf_post_client_id: str = "conf-post-client"
    conf_post_client_secret: str = "conf-post-secret"
    public_client_id: str = "public-client"
    # private_key_jwt: the IdP knows the public half (PKJWT_CLIENT_JWK), the tests sign.
    pkjwt_client_id: str = "pkjwt-client"
    pkjwt_private_key: str = field(default="", repr=False)
    users: dict[str, str] = field(
        default_factory=lambda: {"alice": "alice-password", "bob": "bob-password"}
    )
    subjects: dict[str, str] = field(
        default_factory=lambda: {"alice": "user-alice", "bob": "user-bob"}
    )
    default_access_token_ttl: int = DEFAULT_ACCESS_TOKEN_TTL

    def __repr__(self) -> str:
        return f"IdP({self.issuer})"

    # -- addresses ---------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def port(self) -> int:
        port = urlsplit(self.issuer).port
        assert port is not None
        return port

    @cached_property
    def verify(self) -> ssl.SSLContext | bool:
        """What to pass as httpx's ``verify`` to talk to this IdP."""
        return ssl.create_default_context(cafile=self.ca_path) if self.ca_path else True

    @cached_property
    def metadata(self) -> dict[str, Any]:
        """The discovery document (fetched once)."""
        response = self._admin.get(self.discovery_url)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    @cached_property
    def _admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.issuer, verify=self.verify, timeout=10.0)

    def log(self) -> str:
        """The server's stdout/stderr so far."""
        return self.log_path.read_text(errors="replace")

    # -- admin API (/__test__/) --------------------------------------------------------

    def _post(self, action: str, body: dict[str, Any] | None = None) -> Any:
        response = self._admin.post(f"/__test__/{action}", json=body or {})
        response.raise_for_status()
        return response.json()

    def counts(self) -> dict[str, Any]:
        """``{"token": {grant_type: {calls, ok, errors}}, "refresh_reuse", "revocations",
        "introspections", "refresh_dropped"}`` since the last reset."""
        response = self._admin.get("/__test__/counts")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def token_counts(self, grant_type: str) -> dict[str, int]:
        counts: dict[str, int] = self.counts()["token"].get(
            grant_type, {"calls": 0, "ok": 0, "errors": 0}
        )
        return counts

    def refresh_grants(self) -> int:
        """Refresh-token requests the IdP answered (ok + errors; held-and-dropped excluded)."""
        c = self.token_counts("refresh_token")
        return c["ok"] + c["errors"]

    def reset(self) -> None:
        """Zero the counters; clear failure, delay and hold modes (the TTL is kept)."""
        self._post("reset")

    def set_access_token_ttl(self, seconds: int) -> None:
        """Lifetime of access tokens issued from now on."""
        self._post("config", {"access_token_ttl": seconds})

    def fail(
        self, endpoint: str, status: int = 503, times: int = 1, error: str | None = None
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with ``status`` (-1: until reset).

        endpoint: token, revocation, introspection, discovery, jwks, userinfo, authorization,
        end_session, pushed_authorization_request. ``error``: the OAuth error code in the JSON
        body (default: temporarily_unavailable for 5xx, else invalid_request); ``""`` sends an
        empty body.
        """
        body: dict[str, object] = {"endpoint": endpoint, "status": status, "times": times}
        if error is not None:
            body["error"] = error
        self._post("fail", body)

    def hold_refresh(self, ms: int) -> None:
        """Hold refresh_token grant requests ``ms`` before processing them; a request whose
        client disconnected meanwhile is dropped unprocessed (counted as refresh_dropped)."""
        self._post("hold_refresh", {"ms": ms})

    def delay(self, endpoint: str, ms: int) -> None:
        """Slow every request to ``endpoint`` down by ``ms`` (0: off)."""
        self._post("delay", {"endpoint": endpoint, "ms": ms})

    # -- scripted browser steps --------------------------------------------------------

    def _is_idp(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.issuer)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    def _walk(
        self,
        http: httpx.Client,
        response: httpx.Response,
        submit: _Submit,
        max_steps: int = 10,
    ) -> str:
        """Follow IdP-internal redirects and forms; return the first Location off the IdP.

        ``submit(response, page)`` answers a 200 HTML page: the (url, data) to post, a URL
        string to stop and return, or None to stop with an error.
        """
        for _ in range(max_steps):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if not self._is_idp(location):
                    return location
                response = http.get(location, follow_redirects=False)
                continue
            if response.status_code == 200 and "html" in response.headers.get("content-type", ""):
                step = submit(response, _parse_page(response.text))
                if isinstance(step, str):
                    return step
                if step is not None:
                    url, data = step
                    response = http.post(url, data=data, follow_redirects=False)
                    continue
            raise IdPError(
                f"unexpected IdP response {response.status_code} for {response.url}:\n"
                f"{response.text[:2000]}"
            )
        raise IdPError("too many steps at the IdP")

    def login(
        self,
        http: httpx.Client,
        authorize_url: str,
        username: str = "alice",
        password: str | None = None,
        acr: str | None = None,
        auth_time: int | None = None,
    ) -> str:
        """Sign in at the IdP as a browser would and return the redirect to the RP.
        ``acr``: the authentication context this login achieved (the ID token's ``acr``);
        ``auth_time``: when it happened, if not now (Unix seconds).

        ``authorize_url`` is the IdP authorization URL (or an RP URL that redirects to it:
        the first response is followed if it is a redirect). ``http`` keeps the IdP's
        cookies, so a second login with the same client reuses the IdP session. Returns the
        Location pointing at the RP's redirect_uri (``...?code=...&state=...&iss=...``),
        not followed. Raises LoginFailed on a wrong password.
        """
        if password is None:
            password = self.users[username]
        posted = False

        def submit(response: httpx.Response, page: _FormParser) -> _Step:
            nonlocal posted
            form = next((f for f in page.forms if "password" in f.fields), None)
            if form is None:
                return None
            if posted:
                raise LoginFailed(page.error or "the IdP re-rendered its login page")
            posted = True
            data = {**form.fields, "username": username, "password": password}
            if acr is not None:
                data["acr"] = acr
            if auth_time is not None:
                data["ts"] = str(auth_time)
            return urljoin(str(response.url), form.action), data

        response = http.get(authorize_url, follow_redirects=False)
        return self._walk(http, response, submit)

    def logout(self, http: httpx.Client, end_session_url: str) -> str:
        """Complete RP-initiated logout; return the final redirect URL (the
        post_logout_redirect_uri, or the IdP's own "signed out" page when none is given)."""

        def submit(response: httpx.Response, page: _FormParser) -> _Step:
            if page.forms:
                form = page.forms[0]
                return urljoin(str(response.url), form.action), {"logout": "yes", **form.fields}
            if response.url.path.endswith("/logout/success"):
                return str(response.url)
            return None

        response = http.get(end_session_url, follow_redirects=False)
        return self._walk(http, response, submit)

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        if "_admin" in self.__dict__:
            self._admin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class IdPSilent(IdPError):
    """The IdP's process ran until the deadline without printing a line."""


def start_idp(
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    ca_path: str | None = None,
) -> IdP:
    """Start ``node tests/idp/server.js`` on a free loopback port and wait for discovery.

    A process that printed nothing at all by the deadline is replaced once: that was seen
    only with two full suites sharing the two cores, and one IdP failing to start errors
    every test of its worker. Any other failure, or a second silent one, is raised."""
    try:
        return _start_idp(workdir / "1", env=env, ca_path=ca_path)
    except IdPSilent:
        return _start_idp(workdir / "2", env=env, ca_path=ca_path)


def _start_idp(workdir: Path, *, env: dict[str, str] | None, ca_path: str | None) -> IdP:
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        raise IdPError(
            f"{IDP_DIR}/node_modules is missing: run `make setup` (or `npm ci` in tests/idp)"
        )
    node = shutil.which("node")
    if node is None:
        raise IdPError("`node` is not on PATH: install Node.js 20+ (`make setup`)")

    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "idp.log"
    pkjwt_key = ECKey.generate_key("P-256", {"kid": "pkjwt-test"})
    public_jwk = json.dumps(pkjwt_key.as_dict(private=False))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, str(SERVER_JS)],
            cwd=IDP_DIR,
            env={**os.environ, "PORT": "0", "PKJWT_CLIENT_JWK": public_jwk, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def fail(reason: str) -> IdPError:
        if process.poll() is None:
            process.kill()
            process.wait()
        return IdPError(f"test IdP {reason}; its output:\n{log_path.read_text(errors='replace')}")

    deadline = time.monotonic() + START_TIMEOUT
    issuer = None
    while issuer is None:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                issuer = line.split(" ", 1)[1].strip()
        if issuer is None:
            if process.poll() is not None:
                raise fail(f"exited with status {process.returncode}")
            if time.monotonic() > deadline:
                if not log_path.read_bytes():
                    error = fail(f"printed nothing within {START_TIMEOUT:.0f} s")
                    raise IdPSilent(str(error))
                raise fail(f"did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    idp = IdP(
        issuer=issuer,
        process=process,
        log_path=log_path,
        ca_path=ca_path,
        pkjwt_private_key=pkjwt_key.as_pem(private=True).decode(),
    )
    while True:
        try:
            if httpx.get(idp.discovery_url, verify=idp.verify, timeout=2).status_code == 200:
                return idp
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise fail("did not serve its discovery document")
        time.sleep(0.05)


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost, like ThunderID's default one.

    Returns (cert PEM path, key PEM path); the cert is its own CA bundle.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "idp-cert.pem", directory / "idp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


_START_FAILURES: dict[str, IdPError] = {}


def start_once(name: str, start: Callable[[], IdP]) -> IdP:
    """``start()`` for the session fixture ``name``, failing at once after a failed start:
    pytest sets a failed session fixture up again for every test that asks for it, and
    each try would wait ``START_TIMEOUT`` again."""
    if name in _START_FAILURES:
        raise _START_FAILURES[name]
    try:
        return start()
    except IdPError as exc:
        _START_FAILURES[name] = exc
        raise


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    """The test IdP over plain HTTP, shared by the whole session."""
    server = start_once("idp", lambda: start_idp(tmp_path_factory.mktemp("idp")))
    try:
        yield server
    finally:
        server.stop()


def cleaned(idp: IdP) -> Iterator[IdP]:
    """``idp`` for one test: clean counters and no failure modes, the default TTL after."""
    idp.reset()
    yield idp
    idp.reset()
    idp.set_access_token_ttl(idp.default_access_token_ttl)


@pytest.fixture
def idp_reset(idp: IdP) -> Iterator[IdP]:
    """``idp`` with clean counters and no failure modes; restores the default TTL after."""
    yield from cleaned(idp)


@pytest.fixture(scope="session")
def idp_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    """The test IdP over HTTPS with a self-signed certificate; ``idp_tls.ca_path`` is it."""

    def start() -> IdP:
        workdir = tmp_path_factory.mktemp("idp_tls")
        cert, key = make_self_signed_cert(workdir)
        env = {"TLS_CERT": str(cert), "TLS_KEY": str(key)}
        return start_idp(workdir, env=env, ca_path=str(cert))

    server = start_once("idp_tls", start)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def idp_thunderid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    """The IdP answering like ThunderID's server, over HTTPS (``ca_path`` is its cert)."""

    def start() -> IdP:
        workdir = tmp_path_factory.mktemp("idp_thunderid")
        cert, key = make_self_signed_cert(workdir)
        env = {"IDP_PROFILE": "thunderid", "TLS_CERT": str(cert), "TLS_KEY": str(key)}
        return start_idp(workdir, env=env, ca_path=str(cert))

    server = start_once("idp_thunderid", start)
    try:
        yield server
    finally:
        server.stop()


# -- tokens as plain tests read them -------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (the tests check what the IdP put there)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


# -- the IdP as a resource server would use it -----------------------------------------------


def introspect(idp: IdP, token: str) -> dict[str, Any]:
    """RFC 7662 introspection of ``token`` with the confidential client's credentials."""
    response = httpx.post(
        idp.metadata["introspection_endpoint"],
        data={"token": token},
        auth=(idp.conf_client_id, idp.conf_client_secret),
        verify=idp.verify,
        timeout=10,
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def userinfo_status(idp: IdP, token: str) -> int:
    """Status of the IdP's userinfo endpoint (a real Bearer-protected API) for ``token``."""
    response = httpx.get(
        idp.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token}"},
        verify=idp.verify,
        timeout=10,
    )
    return response.status_code
