"""The framework-agnostic building block every framework helper is made of.

Given a request's WSGI environ or ASGI scope (behind ``ThunderIDWSGIMiddleware`` /
``ThunderIDASGIMiddleware``), these functions answer with a plain ``Response`` (``status``,
``headers``, ``body``) that any framework can send as it is:

* ``sign_in_required(carrier)`` -- what the middleware answers a signed-out request on a
  ``protected_paths`` path: a browser is redirected to sign in and back, code gets 401
  JSON with ``WWW-Authenticate``; a cookie of an ended session is cleared;
* ``forbidden(carrier, missing)`` -- 403 for a signed-in user without a permission (HTML
  for browsers, JSON for code);
* ``authorize(carrier, requirement)`` -- ``None`` when the request may go on, else one of
  the two answers above, or for a requirement's ``acr``/``max_age`` the way to
  authenticate again (a redirect to sign in, or 401 ``insufficient_user_authentication``).

The framework modules (``thunderid_mw.integrations.flask``, ``.django``, ``.starlette``,
``.fastapi``) import their framework, so import the one you use; this module imports none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .._pages import drawn
from ..context import CONTEXT_KEY, AuthContext
from ..core import authorization
from ..core.authorization import Requirement
from ..core.handler import RequestInfo, challenge
from ..core.responses import Response

Carrier = Mapping[str, Any]  # a WSGI environ or an ASGI scope


def context_in(carrier: Carrier, how_to_install: str) -> AuthContext:
    """The ``AuthContext`` the middleware put in a WSGI environ or ASGI scope; a clear
    error naming ``how_to_install`` when the middleware is missing."""
    ctx = carrier.get(CONTEXT_KEY)
    if not isinstance(ctx, AuthContext):
        raise RuntimeError(f"no ThunderID context in this request: {how_to_install}")
    return ctx


def _request_info(carrier: Carrier) -> RequestInfo:
    # Imported here: the adapters are not needed by code that only reads contexts.
    if "REQUEST_METHOD" in carrier:
        from ..wsgi import _request_info as from_environ

        return from_environ(dict(carrier))
    from ..asgi import _request_info as from_scope

    return from_scope(dict(carrier))


def _context(carrier: Carrier) -> AuthContext:
    return context_in(carrier, "wrap the app in ThunderIDWSGIMiddleware / ThunderIDASGIMiddleware")


def sign_in_required(carrier: Carrier) -> Response:
    """The middleware's answer to a signed-out request on a protected path."""
    ctx = _context(carrier)
    config = ctx.client.config
    return drawn(challenge(config, _request_info(carrier), ctx.ended_reason), config.render_page)


def forbidden(carrier: Carrier, missing: list[str] | tuple[str, ...] = ()) -> Response:
    """403 for a signed-in user who lacks ``missing`` (phrases from ``authorize``), its
    page drawn by the app's ``render_page`` when it has one."""
    request = _request_info(carrier)
    answer = authorization.forbidden(missing, api=request.is_api, mount=request.mount)
    return drawn(answer, _context(carrier).client.config.render_page)


def authorize(carrier: Carrier, requirement: Requirement | None = None) -> Response | None:
    """``None`` when the request is signed in and meets ``requirement`` (any signed-in
    request when it is None); else ``sign_in_required`` or ``forbidden``."""
    ctx = _context(carrier)
    if not ctx.is_signed_in:
        return sign_in_required(carrier)
    if requirement is None:
        return None
    answer = authorization.refusal(
        (requirement,),
        ctx.user,
        ctx.scopes,
        lambda: _request_info(carrier),
        config=ctx.client.config,
        now=time.time,
    )
    return None if answer is None else drawn(answer, ctx.client.config.render_page)


def sign_in_answer(
    ctx: AuthContext,
    *,
    method: str,
    path: str,
    query_string: str,
    cookie_header: str | None,
    header: Callable[[str], str | None],
) -> Response:
    """What the middleware answers a signed-out request on a ``protected_paths`` path,
    from request parts (prefer ``sign_in_required(carrier)``)."""
    request = RequestInfo(method, path, query_string, cookie_header, header)
    config = ctx.client.config
    return drawn(challenge(config, request, ctx.ended_reason), config.render_page)


__all__ = [
    "Requirement",
    "Response",
    "authorize",
    "context_in",
    "forbidden",
    "sign_in_answer",
    "sign_in_required",
]
