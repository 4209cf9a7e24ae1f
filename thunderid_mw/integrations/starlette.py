"""Starlette (and FastAPI) helpers for ``ThunderIDASGIMiddleware``.

* ``get_auth(conn)`` -- the request's ``AuthContext`` (HTTP or WebSocket);
* ``require_auth`` -- a FastAPI dependency returning the context of a signed-in user; for
  anyone else it raises ``SignInRequired``, an ``HTTPException`` carrying what the
  middleware answers on a ``protected_paths`` path (browser: redirect to sign-in and back;
  code: 401 with ``WWW-Authenticate``);
* ``requires(scopes=, claims=, groups=, roles=)`` -- a dependency that also raises
  ``Forbidden`` (403) for a signed-in user without them.

Register ``auth_refused_handler`` for ``AuthRefused`` (the base of both) to send the
middleware's answer byte for byte; without it the framework's own ``HTTPException``
handler sends the same status and headers with its own body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ..context import AuthContext
from ..core.responses import Response as CoreResponse
from . import authorize, context_in
from . import sign_in_required as sign_in_answer
from ._guard import requirement_of

_BODY_HEADERS = ("content-type", "content-length")


def get_auth(conn: HTTPConnection) -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's scope."""
    return context_in(
        conn.scope,
        "add the middleware, e.g. "
        "app.add_middleware(ThunderIDASGIMiddleware, config_or_client=config)",
    )


class AuthRefused(HTTPException):
    """The request may not go on; ``response`` is the middleware's answer."""

    def __init__(self, response: CoreResponse, message: str):
        headers = {k: v for k, v in response.headers if k.lower() not in _BODY_HEADERS}
        super().__init__(status_code=response.status, detail=message, headers=headers)
        self.response = response


class SignInRequired(AuthRefused):
    """A request that needs a signed-in user (redirect to sign in, or 401)."""

    def __init__(self, response: CoreResponse, message: str = "Sign-in required."):
        super().__init__(response, message)


class Forbidden(AuthRefused):
    """A signed-in user without the required scopes, claims, groups or roles (403)."""

    def __init__(self, response: CoreResponse, message: str = "Forbidden."):
        super().__init__(response, message)


def _refusal(answer: CoreResponse) -> AuthRefused:
    return Forbidden(answer) if answer.status == 403 else SignInRequired(answer)


def sign_in_required(request: HTTPConnection, ctx: AuthContext | None = None) -> SignInRequired:
    """The exception to raise for a signed-out ``request``."""
    get_auth(request)
    return SignInRequired(sign_in_answer(request.scope))


def require_auth(request: Request) -> AuthContext:
    """FastAPI dependency: the signed-in user's context, else ``SignInRequired``."""
    ctx = get_auth(request)
    if not ctx.is_signed_in:
        raise sign_in_required(request, ctx)
    return ctx


def requires(
    *,
    scopes: str | Iterable[str] = (),
    claims: Mapping[str, str | Iterable[str]] | None = None,
    groups: str | Iterable[str] = (),
    roles: str | Iterable[str] = (),
    acr: str | Iterable[str] = (),
    max_age: int | None = None,
) -> Callable[[Request], AuthContext]:
    """A FastAPI dependency: the context of a signed-in user with all ``scopes``, the
    ``claims`` (name -> accepted values), one of ``groups`` and one of ``roles``; else
    ``SignInRequired`` or ``Forbidden``; ``acr``/``max_age``: step-up (see ``require``)."""
    requirement = requirement_of(scopes, claims, groups, roles, acr, max_age)

    def dependency(request: Request) -> AuthContext:
        ctx = get_auth(request)
        refusal = authorize(request.scope, requirement)
        if refusal is not None:
            raise _refusal(refusal)
        return ctx

    return dependency


def to_response(answer: CoreResponse) -> Response:
    """The core's answer as a Starlette response, headers as they are."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    ]
    return response


async def auth_refused_handler(request: Request, exc: Exception) -> Response:
    """Exception handler sending ``AuthRefused.response`` as it is."""
    if not isinstance(exc, AuthRefused):
        raise exc
    return to_response(exc.response)


#: The earlier name of ``auth_refused_handler``.
sign_in_required_handler = auth_refused_handler

__all__ = [
    "AuthRefused",
    "Forbidden",
    "SignInRequired",
    "auth_refused_handler",
    "get_auth",
    "require_auth",
    "requires",
    "sign_in_required",
    "sign_in_required_handler",
    "to_response",
]
