"""Django helpers, under WSGI or ASGI, for sync and ``async def`` views.

Either add the middleware to ``MIDDLEWARE`` (it then also runs under Django's test
``Client`` and ``AsyncClient``, which call Django past any WSGI/ASGI wrapper)::

    # settings.py
    MIDDLEWARE = ["thunderid_mw.integrations.django.ThunderIDMiddleware", ...]
    THUNDERID = ThunderIDConfig.from_env()   # optional: read from THUNDERID_* when unset

or wrap the application the project serves::

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

With a wrapped application, ``"thunderid_mw.integrations.django.AuthContextMiddleware"``
in ``MIDDLEWARE`` sets ``request.thunderid`` to the context for templates and views
(``ThunderIDMiddleware`` sets it too).
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from ..client import AsyncThunderIDClient, ThunderIDClient
from ..context import CONTEXT_KEY, AuthContext
from ..core.config import ThunderIDConfig
from ..core.errors import ConfigError
from ..core.responses import Response as CoreResponse
from . import context_in, sign_in_required
from ._guard import ViewGuards
from ._inline import InlineASGI, InlineWSGI

_HOW = (
    "add 'thunderid_mw.integrations.django.ThunderIDMiddleware' to MIDDLEWARE, or wrap "
    "Django's application, application = ThunderIDWSGIMiddleware(get_wsgi_application(), "
    "config) or ThunderIDASGIMiddleware(get_asgi_application(), config)"
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


class ThunderIDMiddleware:
    """Django ``MIDDLEWARE`` entry that is the ThunderID middleware itself: it answers
    sign-in, callback, sign-out and back-channel logout, applies ``protected_paths`` and
    ``path_requirements``, and gives every request its context (``get_auth(request)``,
    ``request.thunderid``). Sync under WSGI and the test ``Client``, async under ASGI and
    ``AsyncClient``. Settings: ``THUNDERID``, a ``ThunderIDConfig`` (or a client); when
    unset, ``ThunderIDConfig.from_env()``. Put it near the top of ``MIDDLEWARE``: the
    requests it answers go no further. An application already wrapped by the WSGI or ASGI
    middleware is left to it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        given = _configured()
        config = given if isinstance(given, ThunderIDConfig) else given.config
        if self.is_async:
            markcoroutinefunction(self)
            client = given if isinstance(given, AsyncThunderIDClient) else None
            self._inline_asgi = InlineASGI(client or AsyncThunderIDClient(config))
        else:
            sync_client = given if isinstance(given, ThunderIDClient) else None
            self._inline_wsgi = InlineWSGI(sync_client or ThunderIDClient(config))

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._call_async(request)
        environ: dict[str, Any] = request.META
        if CONTEXT_KEY not in environ:
            if request.method == "POST" and self._inline_wsgi.is_route(request.path_info):
                # The form as Django read it, whoever read it first.
                environ = {**environ, "wsgi.input": io.BytesIO(request.body)}
            answer = self._inline_wsgi(environ)
            if answer is not None:
                return to_response(answer)
        request.thunderid = get_auth(request)
        return self.get_response(request)

    async def _call_async(self, request: HttpRequest) -> HttpResponse:
        scope = getattr(request, "scope", None)
        if not isinstance(scope, dict):
            raise RuntimeError("ThunderIDMiddleware runs async only under Django's ASGI handler")
        if CONTEXT_KEY not in scope:
            routed = request.method == "POST" and self._inline_asgi.is_route(request.path_info)
            query = scope.get("query_string", b"")
            if isinstance(query, str):  # so Django's AsyncClient builds it; servers send bytes
                scope["query_string"] = query.encode("latin-1")
            answer = await self._inline_asgi(scope, request.body if routed else b"")
            if answer is not None:
                return to_response(answer)
        request.thunderid = get_auth(request)
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response


def _configured() -> ThunderIDConfig | ThunderIDClient | AsyncThunderIDClient:
    """``settings.THUNDERID``, else the environment's ``THUNDERID_*``; Django's own
    ``ImproperlyConfigured`` names both when neither will do."""
    from django.conf import settings

    given = getattr(settings, "THUNDERID", None)
    if given is None:
        try:
            return ThunderIDConfig.from_env()
        except ConfigError as exc:
            raise ImproperlyConfigured(
                f"ThunderIDMiddleware: settings.THUNDERID is not set, and from the "
                f"environment: {exc}"
            ) from exc
    if not isinstance(given, ThunderIDConfig | ThunderIDClient | AsyncThunderIDClient):
        raise ImproperlyConfigured(
            "settings.THUNDERID must be a ThunderIDConfig (or a ThunderIDClient / "
            f"AsyncThunderIDClient), not {type(given).__name__}"
        )
    return given


__all__ = [
    "AuthContextMiddleware",
    "ThunderIDMiddleware",
    "get_auth",
    "login_required",
    "require",
    "sign_in_required_response",
    "to_response",
]
