"""Quart helpers for ``ThunderIDASGIMiddleware``.

app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, config)

@app.get("/profile")
@login_required
async def profile():
    return dict(current_auth().user)

@app.get("/admin")
@require(roles="admin")          # signed in without the role: 403
async def admin(): ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Response, request
from werkzeug.datastructures import Headers

from ..context import AuthContext
from ..core.responses import Response as CoreResponse
from . import context_in
from ._guard import ViewGuards

_HOW = "wrap the app, app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, config)"


def current_auth() -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's ASGI scope."""
    return context_in(request.scope, _HOW)


def _scope(*_: Any, **__: Any) -> Mapping[str, Any]:
    current_auth()
    scope: Mapping[str, Any] = request.scope
    return scope


def to_response(answer: CoreResponse) -> Response:
    """The core's answer as a Quart response."""
    return Response(answer.body, status=answer.status, headers=Headers(answer.headers))


_guards = ViewGuards(_scope, to_response)
require = _guards.require
login_required = _guards.login_required


__all__ = ["current_auth", "login_required", "require", "to_response"]
