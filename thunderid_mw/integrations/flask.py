"""Flask helpers (sync or ``async def`` views) for ``ThunderIDWSGIMiddleware``.

    app.wsgi_app = ThunderIDWSGIMiddleware(app.wsgi_app, config)

    @app.get("/profile")
    @login_required
    def profile():
        return dict(current_auth().user)

    @app.get("/admin")
    @require(roles="admin")          # signed in but not an admin: 403
    async def admin(): ...

``current_auth()`` is the request's ``AuthContext``; ``@login_required`` lets signed-in
requests through and answers the others as the middleware does for ``protected_paths``;
``@require(scopes=, claims=, groups=, roles=)`` also answers 403 to a signed-in user who
lacks them (see ``thunderid_mw.integrations``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, request

from ..context import AuthContext
from ..core.responses import Response as CoreResponse
from . import context_in, sign_in_required
from ._guard import ViewGuards

_HOW = "wrap the Flask app with app.wsgi_app = ThunderIDWSGIMiddleware(app.wsgi_app, config)"


def current_auth() -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's WSGI environ."""
    return context_in(request.environ, _HOW)


def _environ(*_: Any, **__: Any) -> Mapping[str, Any]:
    current_auth()  # a missing middleware is named before anything else
    return request.environ


def to_response(answer: CoreResponse) -> Response:
    """The core's answer as a Flask response."""
    return Response(answer.body, status=answer.status, headers=answer.headers)


def sign_in_required_response(ctx: AuthContext | None = None) -> Response:
    """What the middleware answers a signed-out request to a protected path: a redirect to
    sign-in (and back here) for a browser, 401 JSON with ``WWW-Authenticate`` for code."""
    return to_response(sign_in_required(_environ()))


_guards = ViewGuards(_environ, to_response)
require = _guards.require
login_required = _guards.login_required


__all__ = ["current_auth", "login_required", "require", "sign_in_required_response", "to_response"]
