"""A bare WSGI app behind ThunderIDWSGIMiddleware (served by gunicorn in tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tests.apps.common import answer, config_from_env
from thunderid_mw import ThunderIDWSGIMiddleware


def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    status, content_type, body = answer(environ["PATH_INFO"], environ["thunderid"])
    start_response(
        f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    )
    return [body]


app = ThunderIDWSGIMiddleware(inner, config_from_env())
