"""A bare WSGI app behind ThunderIDWSGIMiddleware (served by gunicorn in tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

from tests.apps.common import UPSTREAM_PATH, answer, config_from_env, upstream_answer, upstream_url
from thunderid_mw import ThunderIDWSGIMiddleware


def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    ctx = environ["thunderid"]
    if environ["PATH_INFO"] == UPSTREAM_PATH and ctx.is_signed_in:
        with httpx.Client(auth=ctx.auth(), timeout=10) as api:
            status, content_type, body = upstream_answer(api.get(upstream_url()))
    else:
        status, content_type, body = answer(environ["PATH_INFO"], ctx)
    start_response(
        f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    )
    return [body]


app = ThunderIDWSGIMiddleware(inner, config_from_env())
