"""Django helpers, under WSGI or ASGI, for sync and ``async def`` views.

Wrap the application the project serves::

    # wsgi.py
    application = ThunderIDWSGIMiddleware(get_wsgi_application(), ThunderIDConfig.from_env())
    # asgi.py
    application = ThunderIDASGIMiddleware(get_asgi_application(), ThunderIDConfig.from_env())

In views::

    from thunderid_mw.integrations.django import get_auth, login_required, require

    @login_required
    def profile(request):
        return JsonResponse(dict(get_auth(request).user))

    @require(scopes="orders:read")      # signed in without the scope: 403
    async def orders(request): ...

Optionally add ``"thunderid_mw.integrations.django.AuthContextMiddleware"`` to
``MIDDLEWARE``: it sets ``request.thunderid`` to the context for templates and views.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from ..context import AuthContext
from ..core.responses import Response as CoreResponse
from . import context_in, sign_in_required
from ._guard import ViewGuards

_HOW = (
    "wrap Django's application, application = ThunderIDWSGIMiddleware("
    "get_wsgi_application(), config) or ThunderIDASGIMiddleware(get_asgi_application(), config)"
)


def _carrier(request: HttpRequest) -> Mapping[str, Any]:
    # ASGIRequest keeps the ASGI scope; under WSGI request.META is the environ.
    scope = getattr(request, "scope", None)
    return scope if isinstance(scope, Mapping) else request.META


def get_auth(request: HttpRequest) -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's environ or scope."""
    return context_in(_carrier(request), _HOW)


def _carrier_of_view(request: HttpRequest, *_: Any, **__: Any) -> Mapping[str, Any]:
    get_auth(request)  # a missing middleware is named before anything else
    return _carrier(request)


def to_response(answer: CoreResponse) -> HttpResponse:
    """The core's answer as a Django response."""
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)  # Django keeps one header per name: cookies apart
        else:
            response[name] = value
    return response


def sign_in_required_response(request: HttpRequest, ctx: AuthContext | None = None) -> HttpResponse:
    """What the middleware answers a signed-out request to a protected path."""
    return to_response(sign_in_required(_carrier_of_view(request)))


_guards = ViewGuards(_carrier_of_view, to_response)
require = _guards.require
login_required = _guards.login_required


class AuthContextMiddleware:
    """Django ``MIDDLEWARE`` entry: ``request.thunderid`` is the request's ``AuthContext``
    (sync and async stacks alike)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        request.thunderid = get_auth(request)
        if self.is_async:
            return self._call_async(request)
        return self.get_response(request)

    async def _call_async(self, request: HttpRequest) -> HttpResponse:
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response


__all__ = [
    "AuthContextMiddleware",
    "get_auth",
    "login_required",
    "require",
    "sign_in_required_response",
    "to_response",
]
