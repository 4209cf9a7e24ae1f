"""Litestar: a plugin, a dependency and guards, built on ``thunderid_mw.integrations``.

    from litestar import Litestar, get
    from thunderid_mw.integrations.litestar import ThunderIDPlugin, login_required, requires

    @get("/profile", guards=[login_required])
    async def profile(auth: CurrentAuth) -> dict: return dict(auth.user)

    @get("/admin", guards=[requires(roles="admin")])    # signed in without the role: 403
    async def admin() -> str: ...

    app = Litestar([profile, admin], plugins=[ThunderIDPlugin(ThunderIDConfig.from_env())])

Litestar runs app middleware only for routes it matched, so the plugin registers the
middleware's own routes (sign-in, callback, sign-out, back-channel logout) as ASGI route
handlers and installs ``ThunderIDASGIMiddleware`` as app middleware: every matched route
gets ``scope["thunderid"]``, also provided as the dependency ``auth`` (a parameter
``auth: CurrentAuth``, marked as Litestar's named dependency). A refused guard
sends exactly what the middleware answers (redirect / 401 / 403).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, cast

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Dependency, Provide
from litestar.handlers import BaseRouteHandler, asgi
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPlugin
from litestar.response.base import ASGIResponse
from litestar.types import Guard

from ..asgi import Receive, Scope, Send, ThunderIDASGIMiddleware
from ..client import AsyncThunderIDClient
from ..context import AuthContext
from ..core.config import ThunderIDConfig
from ..core.responses import Response as CoreResponse
from . import authorize, context_in
from ._guard import requirement_of

_HOW = "add plugins=[ThunderIDPlugin(config)] to the Litestar app"

CurrentAuth = Annotated[AuthContext, Dependency(kind="named")]
"""The request's ``AuthContext`` as a handler parameter named ``auth`` (Litestar's
``NamedDependency``; a bare ``auth: AuthContext`` is an inferred dependency, deprecated
in Litestar 2.23 and gone in 3.0)."""


class AuthRefused(Exception):
    """Raised by the guards; ``response`` is the middleware's answer."""

    def __init__(self, response: CoreResponse):
        super().__init__(f"refused with {response.status}")
        self.response = response


class _CoreAnswer(Response[bytes]):
    """The core's answer sent as it is (every header, repeated ``Set-Cookie`` included)."""

    def __init__(self, answer: CoreResponse):
        super().__init__(answer.body, status_code=answer.status)
        self.answer = answer

    def to_asgi_response(self, app: Any, request: Any, **_: Any) -> ASGIResponse:
        return ASGIResponse(
            body=self.answer.body,
            status_code=self.answer.status,
            encoded_headers=[
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in self.answer.headers
                if name.lower() != "content-length"  # ASGIResponse sets it from the body
            ],
        )


def get_auth(request: Request[Any, Any, Any]) -> AuthContext:
    """The request's ``AuthContext`` (the plugin provides it as the dependency ``auth``)."""
    return context_in(request.scope, _HOW)


def refused_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Exception handler for ``AuthRefused`` (registered by the plugin)."""
    if not isinstance(exc, AuthRefused):
        raise exc
    return _CoreAnswer(exc.response)


def requires(
    *,
    scopes: str | Iterable[str] = (),
    claims: Mapping[str, str | Iterable[str]] | None = None,
    groups: str | Iterable[str] = (),
    roles: str | Iterable[str] = (),
    acr: str | Iterable[str] = (),
    max_age: int | None = None,
) -> Guard:
    """A guard: a signed-in user with all ``scopes``, the ``claims``, one of ``groups`` and
    one of ``roles``; anyone else is refused (redirect / 401 / 403)."""
    requirement = requirement_of(scopes, claims, groups, roles, acr, max_age)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        context_in(connection.scope, _HOW)
        refusal = authorize(connection.scope, requirement)
        if refusal is not None:
            raise AuthRefused(refusal)

    return guard


#: A guard letting only signed-in users through.
login_required: Guard = requires()


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class ThunderIDPlugin(InitPlugin):
    """Installs the middleware, its routes, the ``auth`` dependency and the refusal handler."""

    def __init__(self, config_or_client: ThunderIDConfig | AsyncThunderIDClient):
        self.client = (
            config_or_client
            if isinstance(config_or_client, AsyncThunderIDClient)
            else AsyncThunderIDClient(config_or_client)
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        config = self.client.config
        paths = [config.sign_in_path, config.callback_path, config.sign_out_path]
        if config.backchannel_logout_path is not None:
            paths.append(config.backchannel_logout_path)
        # The app middleware below answers these routes; the handler is only reached
        # if that middleware was excluded from them.
        own_routes = ThunderIDASGIMiddleware(_not_found, self.client)

        async def thunderid_routes(scope: Scope, receive: Receive, send: Send) -> None:
            await own_routes(scope, receive, send)

        # copy_scope: Litestar 3's default, named so Litestar 2 does not warn.
        app_config.route_handlers.append(asgi(paths, copy_scope=True)(thunderid_routes))
        app_config.middleware.insert(
            0, DefineMiddleware(cast(Any, ThunderIDASGIMiddleware), config_or_client=self.client)
        )
        app_config.dependencies.setdefault("auth", Provide(get_auth, sync_to_thread=False))
        app_config.exception_handlers[AuthRefused] = refused_handler
        app_config.signature_namespace.update(AuthContext=AuthContext, CurrentAuth=CurrentAuth)
        return app_config


__all__ = [
    "AuthRefused",
    "CurrentAuth",
    "ThunderIDPlugin",
    "get_auth",
    "login_required",
    "refused_handler",
    "requires",
]
