"""``ThunderIDASGIMiddleware``: a plain ASGI callable around any ASGI app.

HTTP and WebSocket scopes get ``scope["thunderid"]`` (an ``AuthContext``). A WebSocket to
a protected path without a session is refused (HTTP 403 at handshake); an open socket is
closed (code 4401) when its session ends. All decisions are the core's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .client import AsyncThunderIDClient
from .context import AuthContext
from .core.config import ThunderIDConfig
from .core.cookies import session_id_from_header
from .core.errors import ProviderError, RefreshUnavailable, StoreUnavailable, ThunderIDError
from .core.handler import (
    MAX_FORM_BYTES,
    RequestInfo,
    challenge,
    parse_form,
    unavailable_for,
)
from .core.responses import Response
from .core.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "thunderid"
WEBSOCKET_SESSION_ENDED = 4401


class ThunderIDASGIMiddleware:
    """Wrap ``app``; every http/websocket scope gets ``scope["thunderid"]``."""

    def __init__(self, app: ASGIApp, config_or_client: ThunderIDConfig | AsyncThunderIDClient):
        self.app = app
        self.client = (
            config_or_client
            if isinstance(config_or_client, AsyncThunderIDClient)
            else AsyncThunderIDClient(config_or_client)
        )
        self.config = self.client.config
        self._routes = self.client.router.routes
        self._is_protected = self.client.router.is_protected
        self._cookie_name = self.config.session_cookie.name
        self._signed_out = self.client.signed_out
        self._cookie_needle = self._cookie_name.encode("latin-1") + b"="

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if kind == "http" and path in self._routes:
            await self._answer_route(self._routes[path], scope, receive, send)
            return
        session_id = session_id_from_header(
            _cookie_header(scope, self._cookie_needle), self._cookie_name
        )
        if session_id is None:  # the cheapest path: no await, no store
            if self._is_protected(path):
                response = challenge(self.config, _request_info(scope), None)
                await self._refuse(scope, send, response)
                return
            scope[SCOPE_KEY] = self._signed_out
            await self.app(scope, receive, send)
            return
        try:
            ctx = await self.client.context_for_session(session_id)
        except (RefreshUnavailable, StoreUnavailable, ProviderError) as exc:
            await self._refuse(scope, send, unavailable_for(_request_info(scope), exc))
            return
        if not ctx.is_signed_in:
            if self._is_protected(path):
                response = challenge(self.config, _request_info(scope), ctx.ended_reason)
                await self._refuse(scope, send, response)
                return
        elif kind == "websocket":
            receive = self._watch_session(ctx, receive, send)
        scope[SCOPE_KEY] = ctx
        await self.app(scope, receive, send)

    async def _answer_route(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        form = parse_form(await _read_body(receive)) if scope["method"] == "POST" else None
        response = await self.client.handle_route(route, _request_info(scope, form))
        await _send(response, send)

    async def _refuse(self, scope: Scope, send: Send, response: Response) -> None:
        if scope["type"] == "websocket":
            # Closing before accept makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
        else:
            await _send(response, send)

    def _watch_session(self, ctx: AuthContext, receive: Receive, send: Send) -> Receive:
        """A ``receive`` that closes the socket once its session has ended."""
        client = self.client
        interval = self.config.websocket_recheck_interval
        session_id = ctx.session_id
        assert session_id is not None
        checked = time.monotonic()

        async def watched_receive() -> Message:
            nonlocal checked
            message = await receive()
            if message["type"] != "websocket.receive":
                return message
            now = time.monotonic()
            if now - checked < interval:
                return message
            checked = now
            try:
                alive = (await client.context_for_session(session_id)).is_signed_in
            except ThunderIDError:
                alive = True  # a store or IdP outage is not the end of the session
            if alive:
                return message
            await send(
                {
                    "type": "websocket.close",
                    "code": WEBSOCKET_SESSION_ENDED,
                    "reason": "session ended",
                }
            )
            return {"type": "websocket.disconnect", "code": WEBSOCKET_SESSION_ENDED}

        return watched_receive


def _cookie_header(scope: Scope, needle: bytes = b"") -> str | None:
    """The ``Cookie`` header(s) as text; with ``needle``, only those that contain it (a
    request without our cookie decodes nothing)."""
    found = None
    for name, value in scope["headers"]:
        if name == b"cookie" and needle in value:
            text = value.decode("latin-1")
            found = text if found is None else found + "; " + text  # HTTP/2 may split it
    return found


def _request_info(scope: Scope, form: dict[str, str] | None = None) -> RequestInfo:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return RequestInfo(
        method=scope.get("method", "GET"),
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        cookie_header=_cookie_header(scope),
        header=headers.get,
        form=form,
    )


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        body += bytes(message.get("body", b""))
        if len(body) > MAX_FORM_BYTES:
            return b""
        if not message.get("more_body", False):
            return body


async def _send(response: Response, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})
