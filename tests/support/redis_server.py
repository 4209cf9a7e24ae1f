"""Pytest plugin: a real ``redis-server`` for the tests, on a free port of 127.0.0.1.

Fixtures:
    redis_server (session)  the running server: ``url``, ``port``, ``stop()``, ``start()``,
                            ``pause(ms)``, ``end_pause()``, ``flush()``
    redis_url    (function) ``redis_server.url`` with the database flushed (and the server
                            started again if a previous test left it stopped)

The server runs with persistence off (``--save "" --appendonly no``) in a temporary
directory. Without the ``redis-server`` binary the fixtures fail: run ``make setup``.

Every redis-server a test starts needs a ``--dir`` of its own: even with ``--save ""`` a
replica's full resync writes ``dump.rdb`` into its current directory, and a server started
later from there loads it. The run fails when a ``dump.rdb`` appeared in (or changed in) the
directory the tests run from.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


def _find_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/sbin/redis-server", "/usr/bin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process this plugin owns."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.dir = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = directory / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused_until = 0.0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def arguments(self) -> list[str]:
        """The command line: loopback only, no persistence (subclasses add to it)."""
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--logfile", str(self.log),
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def start(self) -> None:
        """Start the server (again) on the same port and directory; wait for PING."""
        if self.running:
            return
        self._proc = subprocess.Popen(
            self.arguments(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise RuntimeError(f"redis-server exited at start:\n{err}\n{self._log_tail()}")
            if self.command(b"PING", timeout=0.5) == b"+PONG":
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"redis-server did not answer PING in {START_TIMEOUT}s\n{self._log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until the port is closed."""
        proc, self._proc = self._proc, None
        self._paused_until = 0.0
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stderr:
            proc.stderr.close()

    def pause(self, ms: int) -> None:
        """Make the server hold every client's commands for ``ms`` milliseconds
        (``CLIENT PAUSE ms ALL``)."""
        reply = self.command(b"CLIENT", b"PAUSE", str(int(ms)).encode(), b"ALL")
        assert reply == b"+OK", reply
        self._paused_until = time.monotonic() + ms / 1000

    def end_pause(self) -> None:
        """Wait out a ``pause``, or restart the server if much of it is left (Redis 7.0
        holds even ``CLIENT UNPAUSE`` during a ``PAUSE ... ALL``). The data survives only
        if the pause was waited out."""
        left = self._paused_until - time.monotonic()
        self._paused_until = 0.0
        if left <= 0 or not self.running:
            return
        if left < 0.2:
            time.sleep(left)
        else:
            self.stop()
            self.start()

    def flush(self) -> None:
        """Delete every key (ending any pause first)."""
        self.end_pause()
        reply = self.command(b"FLUSHALL")
        assert reply == b"+OK", reply

    def command(self, *args: bytes, timeout: float = 5.0) -> bytes | None:
        """Send one command on a fresh connection; return the first reply line, or
        ``None`` if the server cannot be reached."""
        payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(payload)
                buf = b""
                while b"\r\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        return None
                    buf += chunk
                return buf.split(b"\r\n", 1)[0]
        except OSError:
            return None

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""


_STRAY_RDB = pytest.StashKey[float | None]()


def _stray_rdb_mtime() -> float | None:
    try:
        return (Path.cwd() / "dump.rdb").stat().st_mtime
    except OSError:
        return None


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STRAY_RDB] = _stray_rdb_mtime()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    after = _stray_rdb_mtime()
    if after is not None and after != session.config.stash.get(_STRAY_RDB, None):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"ERROR: {Path.cwd() / 'dump.rdb'} was written during the run: a redis-server "
                "was started without a --dir of its own",
                red=True,
            )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A ``redis-server`` of our own for the whole test session."""
    binary = _find_binary()
    if binary is None:
        pytest.fail(
            "redis-server is not installed (looked on PATH and in /usr/sbin, /usr/bin); "
            "run `make setup` to install the test dependencies",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="thunderid-redis-") as tmp:
        server = RedisServer(binary, Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The test server's URL, with an empty database."""
    if not redis_server.running:
        redis_server.start()
    redis_server.flush()
    return redis_server.url
