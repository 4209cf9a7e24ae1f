"""Fixtures of the token tests; their helpers are in harness.py."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port
from tests.tokens.harness import ASGI_APP, WSGI_APP, App, client_config
from thunderid_mw import ThunderIDClient


@pytest.fixture
def start_app(
    serve: Callable[..., Server], idp_reset: IdP, tmp_path: Path
) -> Iterator[Callable[..., App]]:
    """``start_app(kind, workers=1, threads=None, **THUNDERID_* extras)``: the test app under
    gunicorn ("wsgi") or uvicorn ("asgi") with a SQLite store in ``tmp_path``."""

    def start(
        kind: str,
        *,
        workers: int = 1,
        threads: int | None = None,
        idp: IdP | None = None,
        **extra: str,
    ) -> App:
        port = free_port()
        store_path = tmp_path / f"sessions-{port}.sqlite3"
        env = app_env(idp or idp_reset, port, f"sqlite:///{store_path}", **extra)
        if kind == "wsgi":
            args: tuple[str, ...] = ("--keep-alive", "30")
            if threads is not None:
                args += ("--threads", str(threads))
            server = serve("gunicorn", WSGI_APP, env, workers=workers, port=port, extra_args=args)
        else:
            args = ("--timeout-keep-alive", "30")
            server = serve("uvicorn", ASGI_APP, env, workers=workers, port=port, extra_args=args)
        started.append(server)
        return App(server, store_path, "")

    started: list[Server] = []
    yield start
    # gunicorn's quick shutdown (SIGINT); ``serve`` then finds the servers stopped.
    for server in started:
        if server.kind == "gunicorn" and server.process.poll() is None:
            server.process.send_signal(signal.SIGINT)
    for server in started:
        server.stop()


@pytest.fixture
def sync_client(idp_reset: IdP) -> Iterator[Callable[..., ThunderIDClient]]:
    """``sync_client(**config changes)``: a ThunderIDClient on the test IdP (closed after)."""
    made: list[ThunderIDClient] = []

    def make(**changes: Any) -> ThunderIDClient:
        client = ThunderIDClient(client_config(idp_reset, **changes))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
