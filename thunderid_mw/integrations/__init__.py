"""Thin helpers for web frameworks. Each module imports its framework, so import the one
you use: ``thunderid_mw.integrations.flask``, ``thunderid_mw.integrations.starlette`` or
``thunderid_mw.integrations.fastapi``. They hold no authentication rules of their own:
they read the request's ``AuthContext`` and answer an unauthenticated request exactly as
the middleware answers one on a ``protected_paths`` path (a browser is redirected to
sign in and back, code gets 401 with ``WWW-Authenticate``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..context import CONTEXT_KEY, AuthContext
from ..core.handler import RequestInfo, challenge
from ..core.responses import Response


def context_in(carrier: Mapping[str, Any], how_to_install: str) -> AuthContext:
    """The ``AuthContext`` the middleware put in a WSGI environ or ASGI scope; a clear
    error naming ``how_to_install`` when the middleware is missing."""
    ctx = carrier.get(CONTEXT_KEY)
    if not isinstance(ctx, AuthContext):
        raise RuntimeError(f"no ThunderID context in this request: {how_to_install}")
    return ctx


def sign_in_answer(
    ctx: AuthContext,
    *,
    method: str,
    path: str,
    query_string: str,
    cookie_header: str | None,
    header: Callable[[str], str | None],
) -> Response:
    """What the middleware answers a signed-out request on a ``protected_paths`` path."""
    request = RequestInfo(method, path, query_string, cookie_header, header)
    return challenge(ctx.client.config, request, ctx.ended_reason)
