"""``ThunderIDASGIMiddleware``: a plain ASGI callable around any ASGI app.

HTTP and WebSocket scopes get ``scope["thunderid"]`` (an ``AuthContext``). A WebSocket to
a protected path without a session is refused (HTTP 403 at handshake); an open socket is
closed (code 4401) when its session ends, noticed on its next message in either
direction. Routes, protection and error answers are decided in the core (``core/``);
this module translates scopes and messages and keeps the per-request fast path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._logging import log_unavailable
from ._pages import drawn
from .client import AsyncThunderIDClient
from .context import CONTEXT_KEY
from .core.authorization import refusal
from .core.config import ThunderIDConfig
from .core.errors import ProviderError, RefreshUnavailable, StoreUnavailable, ThunderIDError
from .core.handler import (
    MAX_FORM_BYTES,
    RequestInfo,
    challenge,
    parse_form,
    unavailable_for,
)
from .core.paths import app_relative, mount_prefix
from .core.proxy import Network, public_origin
from .core.responses import Response
from .core.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_ENDED = 4401  # WebSocket close code: the session is over


class ThunderIDASGIMiddleware:
    """Wrap ``app``; every http/websocket scope gets ``scope["thunderid"]``."""

    def __init__(
        self,
        app: ASGIApp,
        client: ThunderIDConfig | AsyncThunderIDClient | None = None,
        *,
        config_or_client: ThunderIDConfig | AsyncThunderIDClient | None = None,
    ):
        """``client``: the AsyncThunderIDClient to use (shared with the app's own code), or a
        ``ThunderIDConfig`` to make one from. ``config_or_client=`` is its older name."""
        given = client if config_or_client is None else config_or_client
        if given is None or (client is not None and config_or_client is not None):
            raise TypeError(
                "ThunderIDASGIMiddleware takes one client= "
                "(an AsyncThunderIDClient or a ThunderIDConfig)"
            )
        self.app = app
        self.client = (
            given if isinstance(given, AsyncThunderIDClient) else AsyncThunderIDClient(given)
        )
        self.config = self.client.config
        self._routes = self.client._router.routes
        self._render_page = self.config.render_page
        self._route_for = self.client._router.route_for
        self._is_protected = self.client._router.is_protected
        self._protection_known = self.client._router.protection_known
        self._router = self.client._router
        self._has_requirements = self._router.has_requirements
        self._session_id_in = self.client._session_id_in
        self._signed_out = self.client.signed_out
        self._cached_context = self.client._cached_context
        self._cookie_needle = self.config.cookie_name.encode("latin-1") + b"="

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        path = app_relative(scope["path"], root_path) if root_path else scope["path"]
        if kind == "http":
            route = self._routes.get(path)  # Router.route_for, its common case inlined
            if route is None and root_path:
                route = self._route_for(path, mount_prefix(root_path))
            if route is not None:
                await self._answer_route(route, scope, receive, send)
                return
        # Only Cookie headers holding our name count (inlined: most of a signed-out request).
        # bytes.find, not `in`: CPython's bytes `in` first tries its operand as an int and
        # clears the TypeError, which doubles its cost.
        needle = self._cookie_needle
        cookies = None
        for name, value in scope["headers"]:
            if name == b"cookie" and value.find(needle) != -1:
                cookies = value if cookies is None else cookies + b"; " + value
        session_id = None if cookies is None else self._session_id_in(cookies)
        if session_id is None:  # the cheapest path: no await, no store
            # Back from the provider's sign-out (scope["path"] holds the mount, as
            # post_sign_out_url's path does); the query test first: it is rarely there.
            query = scope.get("query_string", b"")
            if (
                query
                and query.find(b"state=") != -1
                and kind == "http"
                and self._router.is_sign_out_return(
                    scope["path"], query.decode("latin-1"), _cookie_header(scope)
                )
            ):
                await self._answer_route(Route.SIGNED_OUT, scope, receive, send)
                return
            if self._protection_known.get(path, True) and self._is_protected(path):
                response = challenge(self.config, _request_info(scope), None)
                await self._refuse(scope, send, response)
                return
            signed_out = self._signed_out
            scope[CONTEXT_KEY] = (
                signed_out.mounted(mount_prefix(root_path)) if root_path else signed_out
            )
            await self.app(scope, receive, send)
            return
        ctx = self._cached_context(session_id)  # a fresh session in a local store: no await
        if ctx is None:
            try:
                ctx = await self.client.context_for_session(session_id)
            except (RefreshUnavailable, StoreUnavailable, ProviderError) as exc:
                log_unavailable(exc)
                await self._refuse(scope, send, unavailable_for(_request_info(scope), exc))
                return
        if not ctx.is_signed_in:
            if self._is_protected(path):
                response = challenge(self.config, _request_info(scope), ctx.ended_reason)
                await self._refuse(scope, send, response)
                return
        elif self._has_requirements and (
            denied := refusal(
                self._router.requirements_for(path),
                ctx.user,
                ctx.scopes,
                lambda: _request_info(scope),
                config=self.config,
                now=time.time,
            )
        ):
            await self._refuse(scope, send, denied)
            return
        elif kind == "websocket":
            assert ctx.session_id is not None
            watch = _SessionWatch(
                self.client,
                ctx.session_id,
                self.config.websocket_recheck_interval,
                receive,
                send,
            )
            receive, send = watch.receive, watch.send
        scope[CONTEXT_KEY] = ctx.mounted(mount_prefix(root_path)) if root_path else ctx
        await self.app(scope, receive, send)

    async def _answer_route(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        form = parse_form(await _read_body(receive)) if scope["method"] == "POST" else None
        request = _request_info(scope, form, self.config.trusted_proxy_networks)
        response = await self.client.handle_route(route, request)
        await _send(drawn(response, self._render_page), send)

    async def _refuse(self, scope: Scope, send: Send, response: Response) -> None:
        if scope["type"] == "websocket":
            # Closing before accept makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
        else:
            await _send(drawn(response, self._render_page), send)


class _SessionWatch:
    """Wraps a WebSocket's ``receive`` and ``send``: at most once per ``interval``, a message
    in either direction re-checks the session; once it has ended the socket is closed
    (code 4401), ``receive`` reports a disconnect and ``send`` raises, as a server does
    for a socket that is gone."""

    def __init__(
        self,
        client: AsyncThunderIDClient,
        session_id: str,
        interval: float,
        receive: Receive,
        send: Send,
    ):
        self._client = client
        self._session_id = session_id
        self._interval = interval
        self._receive = receive
        self._send = send
        self._checked = time.monotonic()
        self._closed = False

    async def _still_alive(self) -> bool:
        now = time.monotonic()
        if now - self._checked < self._interval:
            return True
        self._checked = now
        try:
            return (await self._client.context_for_session(self._session_id)).is_signed_in
        except ThunderIDError:
            return True  # a store or IdP outage is not the end of the session

    async def _close(self) -> None:
        self._closed = True
        message = {"type": "websocket.close", "code": SESSION_ENDED, "reason": "session ended"}
        await self._send(message)

    async def receive(self) -> Message:
        if self._closed:
            return {"type": "websocket.disconnect", "code": SESSION_ENDED}
        message = await self._receive()
        if message["type"] == "websocket.receive" and not await self._still_alive():
            await self._close()
            return {"type": "websocket.disconnect", "code": SESSION_ENDED}
        return message

    async def send(self, message: Message) -> None:
        if self._closed:
            raise ConnectionResetError("the WebSocket was closed: its session ended")
        if message["type"] == "websocket.send" and not await self._still_alive():
            await self._close()
            raise ConnectionResetError("the WebSocket was closed: its session ended")
        await self._send(message)


def _cookie_header(scope: Scope) -> str | None:
    """The ``Cookie`` header(s) as text (HTTP/2 may split it in several)."""
    found = None
    for name, value in scope["headers"]:
        if name == b"cookie":
            text = value.decode("latin-1")
            found = text if found is None else found + "; " + text
    return found


def _request_info(
    scope: Scope, form: dict[str, str] | None = None, networks: tuple[Network, ...] = ()
) -> RequestInfo:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    root_path = scope.get("root_path", "")
    return RequestInfo(
        method=scope.get("method", "GET"),
        path=app_relative(scope["path"], root_path),
        mount=mount_prefix(root_path),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        cookie_header=_cookie_header(scope),
        header=headers.get,
        form=form,
        origin=public_origin(
            "https" if scope.get("scheme") in ("https", "wss") else "http",
            headers.get("host"),
            (scope.get("client") or (None,))[0],
            headers.get,
            networks,
        ),
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
