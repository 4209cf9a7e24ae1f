"""Bottle helpers for ``ThunderIDWSGIMiddleware``.

app = bottle.Bottle()
app.install(ThunderIDPlugin())            # handlers with an ``auth`` argument get it

@app.get("/profile")
@login_required
def profile(auth):
    return dict(auth.user)

@app.get("/admin")
@require(roles="admin")                   # signed in without the role: 403
def admin(): ...

application = ThunderIDWSGIMiddleware(app, config)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, cast

import bottle

from ..context import AuthContext
from ..core.responses import Response as CoreResponse
from . import context_in
from ._guard import ViewGuards

_HOW = "wrap the app, application = ThunderIDWSGIMiddleware(app, config)"


def current_auth() -> AuthContext:
    """The ``AuthContext`` the middleware placed in this request's WSGI environ."""
    return context_in(bottle.request.environ, _HOW)


def _environ(*_: Any, **__: Any) -> Mapping[str, Any]:
    current_auth()
    environ: Mapping[str, Any] = bottle.request.environ
    return environ


def to_response(answer: CoreResponse) -> bottle.HTTPResponse:
    """The core's answer as a Bottle response (repeated ``Set-Cookie`` kept)."""
    return bottle.HTTPResponse(answer.body, status=answer.status, headers=list(answer.headers))


_guards = ViewGuards(_environ, to_response)
require = _guards.require
login_required = _guards.login_required


class ThunderIDPlugin:
    """Passes the request's ``AuthContext`` to handlers that take an ``auth`` argument."""

    name = "thunderid"
    api = 2

    def apply(self, callback: Callable[..., Any], route: Any) -> Callable[..., Any]:
        target = inspect.unwrap(callback)
        if "auth" not in inspect.signature(target).parameters:
            return callback

        @functools.wraps(callback)
        def with_auth(*args: Any, **kwargs: Any) -> Any:
            return callback(*args, auth=current_auth(), **kwargs)

        return cast(Callable[..., Any], with_auth)


__all__ = ["ThunderIDPlugin", "current_auth", "login_required", "require", "to_response"]
