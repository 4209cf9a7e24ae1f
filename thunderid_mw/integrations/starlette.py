"""Starlette (and FastAPI) helpers for ``ThunderIDASGIMiddleware``.

* ``get_auth(request)`` -- the request's ``AuthContext`` (HTTP or WebSocket);
* ``require_auth`` -- a FastAPI dependency returning the context of a signed-in user; for
  anyone else it raises ``SignInRequired``, an ``HTTPException`` carrying what the
  middleware answers on a ``protected_paths`` path (browser: redirect to sign-in and back;
  code: 401 with ``WWW-Authenticate``). Register ``sign_in_required_handler`` for
  ``SignInRequired`` to send that answer byte for byte; without it the framework's own
  ``HTTPException`` handler sends the same status and headers with its own body.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ..context import AuthContext
from ..core.responses import Response as CoreResponse
from . import context_in, sign_in_answer

_BODY_HEADERS = ("content-type", "content-length")


def get_auth(conn: HTTPConnection) -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's scope."""
    return context_in(
        conn.scope,
        "add the middleware, e.g. "
        "app.add_middleware(ThunderIDASGIMiddleware, config_or_client=config)",
    )


class SignInRequired(HTTPException):
    """A request that needs a signed-in user; ``response`` is the middleware's answer."""

    def __init__(self, response: CoreResponse, message: str = "Sign-in required."):
        headers = {k: v for k, v in response.headers if k.lower() not in _BODY_HEADERS}
        super().__init__(status_code=response.status, detail=message, headers=headers)
        self.response = response


def sign_in_required(request: Request, ctx: AuthContext | None = None) -> SignInRequired:
    """The exception to raise for a signed-out ``request`` (see the module docstring)."""
    ctx = ctx or get_auth(request)
    answer = sign_in_answer(
        ctx,
        method=request.method,
        path=request.url.path,
        query_string=request.url.query,
        cookie_header=request.headers.get("cookie"),
        header=request.headers.get,
    )
    return SignInRequired(answer)


def require_auth(request: Request) -> AuthContext:
    """FastAPI dependency: the signed-in user's context, else ``SignInRequired``."""
    ctx = get_auth(request)
    if not ctx.is_signed_in:
        raise sign_in_required(request, ctx)
    return ctx


async def sign_in_required_handler(request: Request, exc: Exception) -> Response:
    """Exception handler sending ``SignInRequired.response`` as it is."""
    if not isinstance(exc, SignInRequired):
        raise exc
    answer = exc.response
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    ]
    return response


__all__ = [
    "SignInRequired",
    "get_auth",
    "require_auth",
    "sign_in_required",
    "sign_in_required_handler",
]
