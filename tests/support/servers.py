"""Pytest plugin: real app servers (gunicorn for WSGI, uvicorn for ASGI) on free ports.

``serve(kind, app, env=..., workers=...)`` starts ``app`` (a ``module:attribute`` path)
with the THUNDERID_* configuration pointing at the test IdP, waits until it answers, and
stops it when the test ends. ``sign_in(server, idp)`` returns an ``httpx.Client`` holding a
signed-in session cookie for that server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET = "test-secret-0123456789-abcdefghijklmnop"
START_TIMEOUT = 60.0  # generous: a loaded 2-core machine starts a framework server slowly


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    kind: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        """The worker processes (gunicorn/uvicorn children of the master)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def app_env(idp: Any, port: int, store_url: str, **extra: str) -> dict[str, str]:
    """THUNDERID_* variables for an app on ``port`` against ``idp``."""
    env = {
        "THUNDERID_BASE_URL": idp.issuer,
        "THUNDERID_CLIENT_ID": idp.conf_client_id,
        "THUNDERID_CLIENT_SECRET": idp.conf_client_secret,
        "THUNDERID_AFTER_SIGN_IN_URL": f"http://127.0.0.1:{port}/callback",
        "THUNDERID_AFTER_SIGN_OUT_URL": f"http://127.0.0.1:{port}/public",
        "THUNDERID_SECRET": TEST_SECRET,
        "THUNDERID_STORE": store_url,
    }
    if idp.ca_path:
        env["THUNDERID_CA_BUNDLE"] = idp.ca_path
    env.update(extra)
    return env


def start_server(
    kind: str,
    app: str,
    env: Mapping[str, str],
    *,
    port: int,
    workers: int = 1,
    log_dir: Path,
    extra_args: tuple[str, ...] = (),
    ready_path: str = "/public",
) -> Server:
    """Start gunicorn (``kind="gunicorn"``), uvicorn (``kind="uvicorn"``), Sanic's own
    server (``kind="sanic"``), granian or hypercorn serving ``app``."""
    if kind == "gunicorn":
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "8",
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            *extra_args,
        ]
    elif kind == "uvicorn":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            *extra_args,
        ]
    elif kind == "granian":  # ASGI unless extra_args say --interface wsgi
        cmd = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *extra_args,
            app,
        ]
    elif kind == "hypercorn":
        cmd = [
            sys.executable,
            "-m",
            "hypercorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *extra_args,
            app,
        ]
    elif kind == "sanic":
        cmd = [
            sys.executable,
            "-m",
            "sanic",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--single-process",
            "--no-access-logs",
            "--no-motd",
            *extra_args,
        ]
    else:
        raise ValueError(f"unknown server kind {kind!r}")
    log_path = log_dir / f"{kind}-{port}.log"
    # The repository first; a PYTHONPATH in ``env`` adds the directories it names.
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    full_env = {**os.environ, **env, "PYTHONPATH": python_path}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(kind, f"http://127.0.0.1:{port}", port, process, log_path, dict(env))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited at start:\n{server.log()}")
        try:
            if httpx.get(server.url + ready_path, timeout=1.0).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{kind} did not answer within {START_TIMEOUT}s:\n{server.log()}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory fixture: ``serve(kind, app, env, workers=1, port=None)``; stops all at the end."""
    started: list[Server] = []

    def factory(
        kind: str,
        app: str,
        env: Mapping[str, str],
        *,
        workers: int = 1,
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        ready_path: str = "/public",
    ) -> Server:
        server = start_server(
            kind,
            app,
            env,
            port=port or free_port(),
            workers=workers,
            log_dir=tmp_path,
            extra_args=extra_args,
            ready_path=ready_path,
        )
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


def sign_in(
    app_url: str, idp: Any, username: str = "alice", return_to: str = "/private"
) -> httpx.Client:
    """A client of the app at ``app_url`` holding a fresh signed-in session cookie."""
    rp = httpx.Client(base_url=app_url, timeout=30.0)
    response = rp.get("/sign-in", params={"return_to": return_to})
    assert response.status_code == 302, response.text
    with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
        callback = idp.login(browser, response.headers["location"], username)
    assert callback.startswith(app_url), callback
    response = rp.get(callback[len(app_url) :])
    assert response.status_code == 302, response.text
    assert response.headers["location"] == return_to
    return rp


def session_cookie(client: httpx.Client, name: str = "__thunderid__session") -> str:
    value = client.cookies.get(name)
    assert value, "no session cookie"
    return value
