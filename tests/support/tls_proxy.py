"""A small TLS-terminating reverse proxy on 127.0.0.1 for the tests, doing what nginx's
``proxy_set_header X-Forwarded-Proto $scheme; X-Forwarded-Host $host`` does (the Host
header itself names the backend): one request per connection (``Connection: close``),
forwarded over plain http to the app."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.idp import make_self_signed_cert
from tests.support.servers import free_port

MAX_HEAD = 64 * 1024
# The proxy talks to the app from its own loopback address, so the app can trust it and
# not the test's direct requests (from 127.0.0.1).
PROXY_ADDRESS = "127.0.0.2"
# The Host the app sees is the backend's (nginx's default ``proxy_set_header Host
# $proxy_host``): only X-Forwarded-Host tells the public one.
DROPPED = (b"host", b"connection", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded")


class TLSProxy:
    def __init__(self, backend_port: int, directory: Path):
        self.backend_port = backend_port
        self.port = free_port()
        self.cert, key = make_self_signed_cert(directory)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(self.cert, key)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the TLS proxy did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self._context)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                return
            request_line, *lines = head[:-4].split(b"\r\n")
            kept = [line for line in lines if line.split(b":", 1)[0].strip().lower() not in DROPPED]
            length = 0
            for line in kept:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            public_host = f"127.0.0.1:{self.port}".encode()
            forwarded = [
                f"Host: 127.0.0.1:{self.backend_port}".encode(),
                b"X-Forwarded-Proto: https",
                b"X-Forwarded-Host: " + public_host,
                b"Connection: close",
            ]
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.backend_port, local_addr=(PROXY_ADDRESS, 0)
            )
            upstream_writer.write(
                b"\r\n".join([request_line, *kept, *forwarded]) + b"\r\n\r\n" + body
            )
            await upstream_writer.drain()
            while chunk := await upstream_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            upstream_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()


@contextmanager
def tls_proxy(backend_port: int, directory: Path) -> Iterator[TLSProxy]:
    proxy = TLSProxy(backend_port, directory)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
