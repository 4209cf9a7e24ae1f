"""The app's ``render_page`` applied to a page the middleware is about to send (both
adapters call ``drawn``). A renderer that raises or returns something unusable is logged,
and the built-in page goes out instead: never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from logging import ERROR

from ._logging import log_event
from .core.events import PAGE_RENDER_FAILED
from .core.responses import Page, PageBody, Response

Renderer = Callable[[Page], PageBody | str | None]


def drawn(response: Response, render: Renderer | None) -> Response:
    page = response.page
    if render is None or page is None:
        return response
    try:
        custom = render(page)
        if custom is None:
            return response
        if isinstance(custom, str):
            custom = PageBody(custom)
        body = custom.body.encode() if isinstance(custom.body, str) else custom.body
        content_type = custom.content_type
        if not isinstance(body, bytes) or not content_type.isprintable():
            raise TypeError("render_page must return a PageBody, a str or None")
    except Exception as exc:
        log_event(
            ERROR,
            PAGE_RENDER_FAILED,
            f"render_page raised {type(exc).__name__}; built-in page sent",
        )
        return response
    headers = [
        (name, value)
        for name, value in response.headers
        if name.lower() not in ("content-type", "content-length")
    ]
    headers[:0] = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return replace(response, headers=headers, body=body)
