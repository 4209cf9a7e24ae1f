"""WebSockets under uvicorn: the socket gets the same context from the same session cookie,
and a protected socket path refuses the handshake without a session.

The client is a minimal RFC 6455 handshake and frame codec over a raw socket, so the test
depends on nothing but the server's own WebSocket support."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct

import httpx
import pytest

from tests.e2e.flows import COOKIE
from tests.support.idp import IdP
from tests.support.servers import Server, sign_in

pytestmark = pytest.mark.parametrize("adapter", ["uvicorn"])

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
TIMEOUT = 10.0


class WebSocket:
    """One client connection: ``status`` is the handshake's HTTP status (101 = open)."""

    def __init__(self, port: int, path: str, cookie: str | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: http://127.0.0.1:{port}",
        ]
        if cookie is not None:
            lines.append(f"Cookie: {cookie}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
        if self.status == 101:
            accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
            assert headers["sec-websocket-accept"] == accept

    def _read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def recv(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame (servers do not mask)."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, self._read(length)

    def recv_text(self) -> str:
        opcode, payload = self.recv()
        assert opcode == 0x1, (opcode, payload)
        return payload.decode()

    def send_text(self, text: str) -> None:
        payload = text.encode()
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def alice_cookie(app: Server, idp: IdP) -> str:
    client = sign_in(app.url, idp, "alice")
    client.close()
    return f"{COOKIE}={client.cookies[COOKIE]}"


@pytest.mark.parametrize("path", ["/ws", "/private/ws"])
def test_signed_in_socket_gets_the_user(app: Server, alice_cookie: str, path: str) -> None:
    ws = WebSocket(app.port, path, alice_cookie)
    try:
        assert ws.status == 101
        assert ws.recv_text() == "sub=user-alice"
        ws.send_text("ping")
        assert ws.recv_text() == "ping"
    finally:
        ws.close()


def test_public_socket_without_cookie_is_signed_out(app: Server) -> None:
    ws = WebSocket(app.port, "/ws")
    try:
        assert ws.status == 101
        assert ws.recv_text() == "sub=None"
    finally:
        ws.close()


@pytest.mark.parametrize("cookie", [None, f"{COOKIE}={'A' * 43}", f"{COOKIE}=garbage"])
def test_protected_socket_without_session_is_refused(
    app: Server, bystander: httpx.Client, cookie: str | None
) -> None:
    ws = WebSocket(app.port, "/private/ws", cookie)
    try:
        assert ws.status == 403
    finally:
        ws.close()
    assert bystander.get("/api/whoami").json()["sub"] == "user-bob"
