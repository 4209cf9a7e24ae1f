"""Responses the middleware sends itself: redirects, the sign-out confirmation page, and
error answers (an HTML page for browsers, JSON for code), never a traceback."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from .paths import header_safe_url

NO_STORE = ("Cache-Control", "no-store")


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


REASONS = {
    302: "Found",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_line(status: int) -> str:
    return f"{status} {REASONS.get(status, 'Unknown')}"


def redirect(location: str, cookies: Iterable[str] = (), status: int = 302) -> Response:
    # A return_to sealed before it was made header-safe still must not break the answer.
    headers = [("Location", header_safe_url(location)), NO_STORE, ("Content-Length", "0")]
    headers += [("Set-Cookie", c) for c in cookies]
    return Response(status, headers)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    api: bool,
    headers: Iterable[tuple[str, str]] = (),
    cookies: Iterable[str] = (),
    links: Iterable[tuple[str, str]] = (),
) -> Response:
    """An error as JSON ``{"error": code, "message": ...}`` or as a small HTML page."""
    extra = [*headers, *(("Set-Cookie", c) for c in cookies), NO_STORE]
    if api:
        body = json.dumps({"error": code, "message": message}).encode()
        content_type = "application/json"
    else:
        link_html = "".join(
            f'<p><a href="{html.escape(href)}">{html.escape(text)}</a></p>' for text, href in links
        )
        body = _page(
            status_line(status),
            f"<h1>{html.escape(status_line(status))}</h1><p>{html.escape(message)}</p>"
            f"<p><small>{html.escape(code)}</small></p>{link_html}",
        )
        content_type = "text/html; charset=utf-8"
    return Response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra],
        body,
    )


def sign_out_confirmation(action: str, csrf_token: str) -> Response:
    """GET on the sign-out route: a same-site POST form (a cross-site GET signs no one out)."""
    body = _page(
        "Sign out",
        "<h1>Sign out?</h1>"
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf_token)}">'
        '<button type="submit" id="confirm-sign-out">Sign out</button></form>',
    )
    return Response(
        200,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            NO_STORE,
            ("X-Frame-Options", "DENY"),
        ],
        body,
    )


def _page(title: str, content: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>{content}</body></html>"
    ).encode()
