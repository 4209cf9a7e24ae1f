"""``thunderid-mw doctor`` against the test IdP: healthy passes; each broken set-up names
its fault on one line and exits 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.redis_server import RedisServer, _find_binary, _free_port
from thunderid_mw.cli.doctor import pushed_authorization_requests
from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.discovery import ProviderMetadata

SECRET = "doctor-test-secret-0123456789-abcdefghijk"


def doctor(idp: IdP, tmp_path: Path, **overrides: str) -> tuple[int, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "THUNDERID_BASE_URL": idp.issuer,
        "THUNDERID_CLIENT_ID": idp.conf_client_id,
        "THUNDERID_CLIENT_SECRET": idp.conf_client_secret,
        "THUNDERID_AFTER_SIGN_IN_URL": "http://127.0.0.1:8000/callback",
        "THUNDERID_AFTER_SIGN_OUT_URL": "http://127.0.0.1:8000/",
        "THUNDERID_SECRET": SECRET,
        "THUNDERID_STORE": f"sqlite:///{tmp_path}/sessions.sqlite3",
    }
    if idp.ca_path:
        env["THUNDERID_CA_BUNDLE"] = idp.ca_path
    for name, value in overrides.items():
        if value:
            env["THUNDERID_" + name] = value
        else:
            env.pop("THUNDERID_" + name, None)
    done = subprocess.run(
        [sys.executable, "-m", "thunderid_mw.cli", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    return done.returncode, done.stdout + done.stderr


def line(output: str, check: str) -> str:
    return next(row for row in output.splitlines() if f" {check}: " in row)


def test_healthy_set_up_passes(idp: IdP, tmp_path: Path) -> None:
    code, output = doctor(idp, tmp_path)
    assert code == 0, output
    for check in ("configuration", "session store", "discovery", "JWKS", "clock"):
        assert line(output, check).startswith("ok"), output
    assert line(output, "client authentication").startswith("ok")
    assert "client_secret_basic as conf-client" in line(output, "client authentication")
    assert line(output, "pushed authorization requests") == (
        "ok   pushed authorization requests: not used (the provider does not require them)"
    )
    assert "0 failed" in output
    assert idp.conf_client_secret not in output and SECRET not in output


def test_wrong_client_secret_is_named(idp: IdP, tmp_path: Path) -> None:
    code, output = doctor(idp, tmp_path, CLIENT_SECRET="not-the-secret")
    assert code == 1
    assert line(output, "client authentication").startswith("FAIL")
    assert "invalid_client" in line(output, "client authentication")
    assert "not-the-secret" not in output


@pytest.mark.parametrize(
    ("mode", "required", "status", "says"),
    [
        ("always", False, "FAIL", "publishes no pushed_authorization_request_endpoint"),
        ("auto", True, "FAIL", "metadata requires pushed authorization requests"),
        ("never", True, "ok", "not used (never)"),
    ],
)
def test_pushing_without_a_par_endpoint_is_named(
    mode: str, required: bool, status: str, says: str
) -> None:
    config = ThunderIDConfig(
        client_id="app",
        after_sign_in_url="http://127.0.0.1:8000/callback",
        secret=SECRET,
        pushed_authorization_requests=mode,  # type: ignore[arg-type]
    )
    metadata = ProviderMetadata(
        "https://idp.example",
        "https://idp.example/authorize",
        "https://idp.example/token",
        "https://idp.example/jwks",
        require_pushed_authorization_requests=required,
    )
    check = pushed_authorization_requests(config, metadata)
    assert (check.status, says in check.detail) == (status, True), check


def test_pushing_is_reported_with_its_endpoint(idp: IdP, tmp_path: Path) -> None:
    code, output = doctor(idp, tmp_path, PUSHED_AUTHORIZATION_REQUESTS="always")
    assert code == 0, output
    row = line(output, "pushed authorization requests")
    endpoint = idp.metadata["pushed_authorization_request_endpoint"]
    assert row.startswith("ok") and row.endswith(endpoint)


def test_wrong_issuer_is_named(idp: IdP, tmp_path: Path) -> None:
    code, output = doctor(idp, tmp_path, ISSUER="https://not-the-issuer.example")
    assert code == 1
    row = line(output, "discovery")
    assert row.startswith("FAIL") and "THUNDERID_ISSUER" in row


def test_untrusted_certificate_is_named(idp_tls: IdP, tmp_path: Path) -> None:
    code, output = doctor(idp_tls, tmp_path, CA_BUNDLE="")
    assert code == 1
    row = line(output, "TLS")
    assert row.startswith("FAIL") and "THUNDERID_CA_BUNDLE" in row


def test_dead_store_is_named(idp: IdP, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    code, output = doctor(idp, tmp_path, STORE=url)
    assert code == 1
    row = line(output, "session store")
    assert row.startswith("FAIL") and "start Redis" in row
    assert line(output, "discovery").startswith("ok")  # the other checks still ran


def test_a_config_that_does_not_load_is_one_failing_line(idp: IdP, tmp_path: Path) -> None:
    code, output = doctor(idp, tmp_path, SECRET="x" * 40)
    assert code == 1
    assert line(output, "configuration").startswith("FAIL") and "secret is weak" in output


def test_https_pointed_at_plain_http_says_the_scheme_is_wrong(idp: IdP, tmp_path: Path) -> None:
    plain = urlsplit(idp.issuer)
    assert plain.scheme == "http"
    code, output = doctor(idp, tmp_path, BASE_URL=f"https://{plain.netloc}")
    assert code == 1
    row = line(output, "TLS")
    assert row.startswith("FAIL") and "does not speak TLS" in row and "http://" in row, row
    assert "CA_BUNDLE" not in row  # the certificate is not the problem


@contextmanager
def skewed_provider(idp: IdP, skew: float) -> Iterator[str]:
    """A copy of the IdP's discovery document served with a ``Date`` ``skew`` seconds off."""
    document = json.dumps(
        httpx.get(idp.discovery_url, verify=idp.verify, timeout=10).json()
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.send_header("Date", formatdate(time.time() + skew, usegmt=True))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(document)

        def do_HEAD(self) -> None:
            self._answer(b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(time.time() + skew, usegmt=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_clock_skew_against_the_provider_is_named(idp: IdP, tmp_path: Path) -> None:
    with skewed_provider(idp, skew=-600) as url:
        code, output = doctor(idp, tmp_path, BASE_URL=url, ISSUER=idp.issuer)
    assert code == 1
    row = line(output, "clock")
    assert row.startswith("FAIL") and "NTP" in row, row
    assert re.search(r"\+60[01]s off", row), row  # Date has a resolution of one second
    assert line(output, "discovery").startswith("ok")  # only the clock is wrong


def test_a_small_clock_skew_passes(idp: IdP, tmp_path: Path) -> None:
    with skewed_provider(idp, skew=5) as url:
        _, output = doctor(idp, tmp_path, BASE_URL=url, ISSUER=idp.issuer)
    assert line(output, "clock").startswith("ok"), output


class ConfiguredRedis(RedisServer):
    """A redis-server of the test's own with the given persistence settings."""

    def __init__(self, directory: Path, **settings: str) -> None:
        binary = _find_binary()
        assert binary, "redis-server is missing: run make setup"
        super().__init__(binary, directory)
        self.settings = settings

    def arguments(self) -> list[str]:
        args = super().arguments()
        for name, value in self.settings.items():
            flag = "--" + name
            if flag in args:
                args[args.index(flag) + 1] = value
            else:
                args += [flag, value]
        return args


@pytest.mark.parametrize(
    ("settings", "verdict", "words"),
    [
        ({}, "warn", "persistence is off: a restart of Redis signs every user out"),
        ({"save": "3600 1"}, "warn", "snapshots only (save 3600 1)"),
        ({"appendonly": "yes", "appendfsync": "no"}, "warn", "appendfsync no"),
        ({"appendonly": "yes", "appendfsync": "everysec"}, "ok", "appendfsync everysec"),
    ],
)
def test_redis_durability_is_reported(
    idp: IdP, tmp_path: Path, settings: dict[str, str], verdict: str, words: str
) -> None:
    redis = ConfiguredRedis(tmp_path, **settings)
    redis.start()
    try:
        code, output = doctor(idp, tmp_path, STORE=redis.url)
    finally:
        redis.stop()
    assert code == 0, output  # a warning, not a failure: the app works, restarts hurt
    row = line(output, "store durability")
    assert row.startswith(verdict) and words in row, row
    if verdict == "warn":
        assert "appendonly yes" in row  # the fix
