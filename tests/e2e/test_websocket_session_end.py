"""A live WebSocket is closed when its session ends (here: signed out in another tab)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support.idp import IdP
from tests.support.servers import app_env, free_port, sign_in

SESSION_ENDED = 4401


def test_open_socket_is_closed_after_sign_out(idp: IdP, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = app_env(
        idp, port, f"sqlite:///{tmp_path}/s.sqlite3", THUNDERID_WEBSOCKET_RECHECK_INTERVAL="0.2"
    )
    server = serve("uvicorn", "tests.apps.asgi_app:app", env, port=port)
    client = sign_in(server.url, idp)
    cookie = f"__thunderid__session={client.cookies['__thunderid__session']}"
    with connect(f"ws://127.0.0.1:{port}/ws", additional_headers={"Cookie": cookie}) as socket:
        assert socket.recv(timeout=5) == "sub=user-alice"
        socket.send("still here")
        assert socket.recv(timeout=5) == "still here"

        page = client.get("/sign-out").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        assert client.post("/sign-out", data={"csrf_token": token.group(1)}).status_code == 303

        time.sleep(0.3)  # let the recheck interval pass (not a timing assertion)
        socket.send("anyone?")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == SESSION_ENDED


def test_push_only_socket_is_closed_after_sign_out(idp: IdP, serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The client never sends: the server's own pushes notice that the session ended."""
    port = free_port()
    env = app_env(
        idp, port, f"sqlite:///{tmp_path}/s.sqlite3", THUNDERID_WEBSOCKET_RECHECK_INTERVAL="0.2"
    )
    server = serve("uvicorn", "tests.apps.asgi_app:app", env, port=port)
    client = sign_in(server.url, idp)
    cookie = f"__thunderid__session={client.cookies['__thunderid__session']}"
    with connect(f"ws://127.0.0.1:{port}/ws/push", additional_headers={"Cookie": cookie}) as socket:
        assert socket.recv(timeout=5) == "sub=user-alice"
        tick = socket.recv(timeout=5)
        assert isinstance(tick, str) and tick.startswith("tick")

        page = client.get("/sign-out").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        assert client.post("/sign-out", data={"csrf_token": token.group(1)}).status_code == 303

        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(200):  # ticks keep coming until the re-check closes the socket
                socket.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == SESSION_ENDED
