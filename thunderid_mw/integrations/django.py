"""Django helpers for ``ThunderIDWSGIMiddleware`` (Django's ``request.META`` is the WSGI
environ the middleware fills).

In ``wsgi.py``::

    application = ThunderIDWSGIMiddleware(get_wsgi_application(), ThunderIDConfig.from_env())

In views::

    from thunderid_mw.integrations.django import get_auth, login_required

    @login_required
    def profile(request):
        return JsonResponse(dict(get_auth(request).user))

``@login_required`` lets signed-in requests through and answers the others exactly as the
middleware does on ``protected_paths`` (browsers: sign in and come back; code: 401).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse

from ..context import AuthContext
from . import context_in, sign_in_answer

F = TypeVar("F", bound=Callable[..., Any])


def get_auth(request: HttpRequest) -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's WSGI environ."""
    return context_in(
        request.META,
        "wrap Django's WSGI application, "
        "application = ThunderIDWSGIMiddleware(get_wsgi_application(), config)",
    )


def sign_in_required_response(request: HttpRequest, ctx: AuthContext | None = None) -> HttpResponse:
    """What the middleware answers a signed-out request to a protected path."""
    ctx = ctx or get_auth(request)
    answer = sign_in_answer(
        ctx,
        method=request.method or "GET",
        path=request.path_info,
        query_string=request.META.get("QUERY_STRING", ""),
        cookie_header=request.META.get("HTTP_COOKIE"),
        header=request.headers.get,
    )
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)  # Django keeps one header per name: cookies apart
        else:
            response[name] = value
    return response


def login_required(view: F) -> F:
    """Run ``view`` only for a signed-in user (see ``sign_in_required_response``)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        ctx = get_auth(request)
        if not ctx.is_signed_in:
            return sign_in_required_response(request, ctx)
        return view(request, *args, **kwargs)

    return cast(F, wrapper)


__all__ = ["get_auth", "login_required", "sign_in_required_response"]
