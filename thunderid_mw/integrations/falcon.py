"""Falcon helpers (WSGI ``falcon.App`` and ASGI ``falcon.asgi.App``).

    app = ThunderIDWSGIMiddleware(falcon.App(), config)      # or the ASGI pair

    class Profile:
        @falcon.before(login_required)                      # ASGI: login_required_async
        def on_get(self, req, resp):
            resp.media = dict(get_auth(req).user)

    class Admin:
        @falcon.before(require(roles="admin"))              # ASGI: require_async(...)
        def on_get(self, req, resp): ...

A hook raises ``AuthRefused``, an ``HTTPStatus`` carrying the middleware's answer
(redirect / 401 / 403), so the responder does not run. Code inside a responder can
``raise AuthRefused(answer)`` too. To handle it yourself, or to be explicit, register
``auth_refused_handler`` (ASGI: ``auth_refused_handler_async``) with
``app.add_error_handler(AuthRefused, ...)``: it writes the same answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import falcon

from ..context import AuthContext
from ..core.authorization import Requirement
from ..core.responses import Response as CoreResponse
from . import authorize, context_in
from ._guard import requirement_of

_HOW = "wrap the app in ThunderIDWSGIMiddleware / ThunderIDASGIMiddleware"

Hook = Callable[[Any, Any, Any, dict[str, Any]], None]
AsyncHook = Callable[[Any, Any, Any, dict[str, Any]], Awaitable[None]]


def _carrier(req: Any) -> Mapping[str, Any]:
    scope = getattr(req, "scope", None)  # falcon.asgi.Request
    carrier: Mapping[str, Any] = scope if isinstance(scope, Mapping) else req.env
    return carrier


def get_auth(req: Any) -> AuthContext:
    """The request's ``AuthContext`` (WSGI ``req.env`` or ASGI ``req.scope``)."""
    return context_in(_carrier(req), _HOW)


class AuthRefused(falcon.HTTPStatus):
    """The request may not go on; ``response`` is the middleware's answer. Falcon sends it
    as it is when raised (an ``HTTPStatus``); the error handlers below do the same."""

    def __init__(self, response: CoreResponse):
        headers = [(n, v) for n, v in response.headers if n.lower() != "content-length"]
        super().__init__(response.status, headers=headers, text=response.body.decode())
        self.response = response


def write(answer: CoreResponse, resp: Any) -> None:
    """Put the core's answer into a Falcon response (repeated ``Set-Cookie`` kept)."""
    resp.status = answer.status
    for name, value in answer.headers:
        if name.lower() == "content-length":
            continue
        if name.lower() == "set-cookie":
            resp.append_header(name, value)
        else:
            resp.set_header(name, value)
    resp.data = answer.body


def _check(req: Any, requirement: Requirement | None) -> None:
    get_auth(req)
    refusal = authorize(_carrier(req), requirement)
    if refusal is not None:
        raise AuthRefused(refusal)  # the responder does not run


def require(
    *,
    scopes: str | Iterable[str] = (),
    claims: Mapping[str, str | Iterable[str]] | None = None,
    groups: str | Iterable[str] = (),
    roles: str | Iterable[str] = (),
    acr: str | Iterable[str] = (),
    max_age: int | None = None,
) -> Hook:
    """A ``falcon.before`` hook: a signed-in user with all ``scopes``, the ``claims``, one
    of ``groups`` and one of ``roles``; anyone else gets redirect / 401 / 403."""
    requirement = requirement_of(scopes, claims, groups, roles, acr, max_age)

    def hook(req: Any, resp: Any, resource: Any, params: dict[str, Any]) -> None:
        _check(req, requirement)

    return hook


def require_async(
    *,
    scopes: str | Iterable[str] = (),
    claims: Mapping[str, str | Iterable[str]] | None = None,
    groups: str | Iterable[str] = (),
    roles: str | Iterable[str] = (),
    acr: str | Iterable[str] = (),
    max_age: int | None = None,
) -> AsyncHook:
    """``require`` for ``falcon.asgi`` responders."""
    requirement = requirement_of(scopes, claims, groups, roles, acr, max_age)

    async def hook(req: Any, resp: Any, resource: Any, params: dict[str, Any]) -> None:
        _check(req, requirement)

    return hook


#: ``falcon.before`` hooks letting only signed-in users through (WSGI / ASGI).
login_required: Hook = require()
login_required_async: AsyncHook = require_async()


def auth_refused_handler(req: Any, resp: Any, ex: Exception, params: dict[str, Any]) -> None:
    """Error handler for ``AuthRefused`` (WSGI)."""
    if not isinstance(ex, AuthRefused):
        raise ex
    write(ex.response, resp)


async def auth_refused_handler_async(
    req: Any, resp: Any, ex: Exception, params: dict[str, Any]
) -> None:
    """Error handler for ``AuthRefused`` (ASGI)."""
    auth_refused_handler(req, resp, ex, params)


__all__ = [
    "AuthRefused",
    "auth_refused_handler",
    "auth_refused_handler_async",
    "get_auth",
    "login_required",
    "login_required_async",
    "require",
    "require_async",
    "write",
]
