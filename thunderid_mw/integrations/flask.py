"""Flask helpers for ``ThunderIDWSGIMiddleware``.

    app.wsgi_app = ThunderIDWSGIMiddleware(app.wsgi_app, config)

    @app.get("/profile")
    @login_required
    def profile():
        return current_auth().user

``current_auth()`` is the request's ``AuthContext``; ``@login_required`` lets signed-in
requests through and answers the others as the middleware does for ``protected_paths``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request

from ..context import AuthContext
from . import context_in, sign_in_answer

F = TypeVar("F", bound=Callable[..., Any])


def current_auth() -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's WSGI environ."""
    return context_in(
        request.environ,
        "wrap the Flask app with app.wsgi_app = ThunderIDWSGIMiddleware(app.wsgi_app, config)",
    )


def sign_in_required_response(ctx: AuthContext | None = None) -> Response:
    """What the middleware answers a signed-out request to a protected path: a redirect to
    sign-in (and back here) for a browser, 401 JSON with ``WWW-Authenticate`` for code."""
    ctx = ctx or current_auth()
    answer = sign_in_answer(
        ctx,
        method=request.method,
        path=request.path,
        query_string=request.query_string.decode("latin-1"),
        cookie_header=request.headers.get("Cookie"),
        header=request.headers.get,
    )
    return Response(answer.body, status=answer.status, headers=answer.headers)


def login_required(view: F) -> F:
    """Run ``view`` only for a signed-in user (see ``sign_in_required_response``)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = current_auth()
        if not ctx.is_signed_in:
            return sign_in_required_response(ctx)
        return view(*args, **kwargs)

    return cast(F, wrapper)


__all__ = ["current_auth", "login_required", "sign_in_required_response"]
