"""Sanic on its own server (which runs no ASGI middleware): an extension.

    app = Sanic("shop")
    ThunderID(app, ThunderIDConfig.from_env())

    @app.get("/profile")
    @login_required
    async def profile(request):
        return json(dict(get_auth(request).user))

    @app.get("/admin")
    @require(roles="admin")                       # signed in without the role: 403
    async def admin(request): ...

Before every request the extension runs ``ThunderIDASGIMiddleware`` itself on an ASGI
scope made from the Sanic request: the middleware's own routes and its refusals are
answered there, unchanged; otherwise the context is ``request.ctx.thunderid``. So the
decisions are the middleware's, byte for byte, as under any ASGI server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import unquote

from sanic import HTTPResponse, Request, Sanic
from sanic.compat import Header

from ..asgi import Scope
from ..client import AsyncThunderIDClient
from ..context import CONTEXT_KEY, AuthContext
from ..core.config import ThunderIDConfig
from ..core.responses import Response as CoreResponse
from . import context_in
from ._guard import ViewGuards
from ._inline import InlineASGI

_HOW = "install the extension, ThunderID(app, config)"


def _scope_of(request: Request) -> Scope:
    raw_path = request.path
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": request.version,
        "method": request.method,
        "scheme": request.scheme,
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1", "replace"),
        "root_path": "",
        "query_string": request.query_string.encode("latin-1", "replace"),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ],
    }


def to_response(answer: CoreResponse) -> HTTPResponse:
    """The core's answer as a Sanic response (repeated ``Set-Cookie`` kept)."""
    headers = Header()
    for name, value in answer.headers:
        if name.lower() not in ("content-length", "content-type"):
            headers.add(name, value)
    content_type = dict((n.lower(), v) for n, v in answer.headers).get("content-type")
    return HTTPResponse(
        answer.body, status=answer.status, headers=headers, content_type=content_type
    )


class ThunderID:
    """The extension: ``ThunderID(app, config_or_client)``."""

    def __init__(
        self, app: Sanic[Any, Any], config_or_client: ThunderIDConfig | AsyncThunderIDClient
    ):
        client = (
            config_or_client
            if isinstance(config_or_client, AsyncThunderIDClient)
            else AsyncThunderIDClient(config_or_client)
        )
        self.client = client
        self._inline = InlineASGI(client)
        app.register_middleware(self._before, "request")

    async def _before(self, request: Request) -> HTTPResponse | None:
        scope = _scope_of(request)
        if request.stream is not None and self._inline.is_route(scope["path"]):
            # No Sanic route matches our own routes, so Sanic has not read the body (the
            # sign-out form, a back-channel logout token) before its request middleware.
            await cast(Any, request).receive_body()  # untyped in Sanic
        answer = await self._inline(scope, request.body or b"")
        if answer is not None:
            return to_response(answer)
        request.ctx.thunderid = scope[CONTEXT_KEY]
        request.ctx.thunderid_scope = scope
        return None


def get_auth(request: Request) -> AuthContext:
    """The request's ``AuthContext``."""
    return context_in({CONTEXT_KEY: getattr(request.ctx, "thunderid", None)}, _HOW)


def _scope_for_view(request: Request, *_: Any, **__: Any) -> Mapping[str, Any]:
    get_auth(request)
    scope: Mapping[str, Any] = request.ctx.thunderid_scope
    return scope


_guards = ViewGuards(_scope_for_view, to_response)
require = _guards.require
login_required = _guards.login_required


__all__ = ["ThunderID", "get_auth", "login_required", "require", "to_response"]
