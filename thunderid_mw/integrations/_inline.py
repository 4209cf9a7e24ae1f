"""The real middleware run inside a framework's own request hook (Sanic's request
middleware, a Django ``MIDDLEWARE`` class), for frameworks whose server or test client
calls the app past any WSGI/ASGI wrapper.

The request either passes, its context then in the environ or scope as under a wrapper,
or the middleware answers it (its routes, a refusal): that answer is captured as a core
``Response`` for the framework to send. The decisions stay the middleware's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..asgi import Message, Scope, ThunderIDASGIMiddleware
from ..client import AsyncThunderIDClient, ThunderIDClient
from ..core.responses import Response
from ..wsgi import Environ, ThunderIDWSGIMiddleware

_PASSED = "thunderid.passed"  # set by the inner app: the middleware let the request through


def _let_through_wsgi(environ: Environ, start_response: Any) -> Iterable[bytes]:
    environ[_PASSED] = True
    return []


async def _let_through_asgi(scope: Scope, receive: Any, send: Any) -> None:
    scope[_PASSED] = True


class _Inline:
    client: ThunderIDClient | AsyncThunderIDClient

    def is_route(self, path: str) -> bool:
        """One of the middleware's own routes (sign-in, callback, sign-out, logout): a POST
        there carries a form the framework may have to read first."""
        return self.client._router.route_for(path) is not None


class InlineWSGI(_Inline):
    """``ThunderIDWSGIMiddleware`` on one environ: ``None`` when the request may go on
    (``environ["thunderid"]`` is set), else the middleware's answer."""

    def __init__(self, client: ThunderIDClient):
        self.client = client
        self._middleware = ThunderIDWSGIMiddleware(_let_through_wsgi, client)

    def __call__(self, environ: Environ) -> Response | None:
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started.append((status, headers))

        body = b"".join(self._middleware(environ, start_response))
        if environ.pop(_PASSED, False):
            return None
        status, headers = started[0]
        return Response(int(status.split(" ", 1)[0]), list(headers), body)


class InlineASGI(_Inline):
    """``ThunderIDASGIMiddleware`` on one HTTP scope whose body is already read: ``None``
    when the request may go on (``scope["thunderid"]`` is set), else the answer."""

    def __init__(self, client: AsyncThunderIDClient):
        self.client = client
        self._middleware = ThunderIDASGIMiddleware(_let_through_asgi, client)

    async def __call__(self, scope: Scope, body: bytes) -> Response | None:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await self._middleware(scope, receive, send)
        if scope.pop(_PASSED, False):
            return None
        start = sent[0]
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in start["headers"]]
        return Response(start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:]))
