"""Pyramid: a security policy and a forbidden view, for ``ThunderIDWSGIMiddleware``.

    config.include("thunderid_mw.integrations.pyramid")
    # request.identity is the AuthContext of a signed-in user (else None)

    @view_config(route_name="documents", permission="read:documents")   # a scope
    def documents(request): ...

    @view_config(route_name="admin", permission=Requirement.of(roles="admin"))
    def admin(request): ...

    application = ThunderIDWSGIMiddleware(config.make_wsgi_app(), settings_config)

``permits`` reads a string permission as a scope the provider must have granted (with
ThunderID, a permission of the user's roles: see the authorization page) and a
``Requirement`` as it is. The forbidden view answers as the middleware does: a signed-out
request is sent to sign in (or gets 401), a signed-in one without the permission 403, and
one that misses only the requirement's ``acr``/``max_age`` is sent to authenticate again
(or gets 401 ``insufficient_user_authentication``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import Allowed, Denied

from ..context import AuthContext
from ..core.authorization import Requirement, step_up_needed, unmet
from ..core.responses import Response as CoreResponse
from . import authorize, context_in, forbidden, sign_in_required

_HOW = "wrap the app, application = ThunderIDWSGIMiddleware(config.make_wsgi_app(), config)"


def get_auth(request: Request) -> AuthContext:
    """The request's ``AuthContext`` (signed in or not)."""
    return context_in(request.environ, _HOW)


class _Missing(Denied):  # type: ignore[misc]
    """A ``Denied`` that keeps what was missing, for the forbidden view."""

    missing: list[str]

    def __new__(cls, missing: Sequence[str]) -> _Missing:
        # PermitsResult is an int: its message goes to __new__.
        denied: _Missing = super().__new__(cls, "missing: %s", ", ".join(missing))
        denied.missing = list(missing)
        return denied


class _NeedsStepUp(Denied):  # type: ignore[misc]
    """A ``Denied`` for a user who must authenticate again (``acr``/``max_age``)."""

    requirement: Requirement

    def __new__(cls, requirement: Requirement) -> _NeedsStepUp:
        denied: _NeedsStepUp = super().__new__(cls, "authentication must be stepped up")
        denied.requirement = requirement
        return denied


class ThunderIDSecurityPolicy:
    """``identity``: the signed-in ``AuthContext`` or None; ``authenticated_userid``: its
    ``sub``; ``permits``: a scope (string) or a ``Requirement``. Signing in and out are the
    middleware's routes, so ``remember``/``forget`` add no headers."""

    def identity(self, request: Request) -> AuthContext | None:
        ctx = get_auth(request)
        return ctx if ctx.is_signed_in else None

    def authenticated_userid(self, request: Request) -> str | None:
        ctx = self.identity(request)
        sub = ctx.user.get("sub") if ctx is not None else None
        return str(sub) if sub is not None else None

    def permits(self, request: Request, context: Any, permission: Any) -> Allowed | Denied:
        ctx = self.identity(request)
        if ctx is None:
            return Denied("not signed in")
        requirement = (
            permission if isinstance(permission, Requirement) else Requirement.of(scopes=permission)
        )
        missing = unmet(requirement, ctx.user, ctx.scopes)
        if missing:
            return _Missing(missing)
        config = ctx.client.config
        if step_up_needed((requirement,), ctx.user, config=config, now=time.time) is not None:
            return _NeedsStepUp(requirement)
        return Allowed("requirement met")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        return []


def to_response(answer: CoreResponse) -> Response:
    """The core's answer as a Pyramid response."""
    return Response(body=answer.body, status=answer.status, headerlist=list(answer.headers))


def forbidden_view(request: Request) -> Response:
    """Pyramid's forbidden view: sign in (redirect / 401) or 403, as the middleware answers."""
    if not get_auth(request).is_signed_in:
        return to_response(sign_in_required(request.environ))
    result = getattr(request.exception, "result", None)
    if isinstance(result, _NeedsStepUp):
        answer = authorize(request.environ, result.requirement)
        if answer is not None:  # else it was met meanwhile: the 403 below says nothing
            return to_response(answer)
    missing = result.missing if isinstance(result, _Missing) else []
    return to_response(forbidden(request.environ, missing))


def includeme(config: Configurator) -> None:
    """``config.include("thunderid_mw.integrations.pyramid")``: the policy and the view."""
    config.set_security_policy(ThunderIDSecurityPolicy())
    config.add_forbidden_view(forbidden_view)


__all__ = [
    "ThunderIDSecurityPolicy",
    "forbidden_view",
    "get_auth",
    "includeme",
    "to_response",
]
