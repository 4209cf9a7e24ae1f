"""Responses the middleware sends itself: redirects, the sign-out confirmation page, and
error answers (an HTML page for browsers, JSON for code), never a traceback.

Every HTML page is first a typed ``Page`` (what to say, the ways back); the default
renderer draws it, and the app's ``render_page`` may draw it instead (the adapters apply
it: ``thunderid_mw._pages``)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .paths import header_safe_url

NO_STORE = ("Cache-Control", "no-store")


class PageKind(StrEnum):
    ERROR = "error"
    SIGN_OUT = "sign_out"  # the sign-out confirmation


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True, slots=True)
class Page:
    """A page the middleware is about to show a browser, for ``render_page`` to draw.
    ``code`` is stable (``provider_error``, ``sign_in_cancelled``, ``forbidden``, ...);
    ``title`` and ``message`` are the default wording, ``links`` the ways back. The
    sign-out confirmation also has ``account`` (who is signed in), and a form: POST
    ``form_action`` with the field ``csrf_token``; ``cancel_url`` goes back."""

    kind: PageKind
    status: int
    code: str
    title: str
    message: str
    links: tuple[Link, ...] = ()
    account: str | None = None
    form_action: str = ""
    csrf_token: str = field(default="", repr=False)
    cancel_url: str = ""


@dataclass(frozen=True, slots=True)
class PageBody:
    """What ``render_page`` returns (or a ``str`` of HTML, or None for the default)."""

    body: str | bytes
    content_type: str = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    page: Page | None = None  # the HTML page's description, for render_page


# The default titles: plain words, not a status line.
TITLES = {
    400: "This request could not be completed",
    401: "Please sign in",
    403: "You do not have access to this page",
    405: "This action is not available here",
    500: "Something went wrong",
    502: "Sign-in is not available right now",
    503: "Please try again in a moment",
    504: "Please try again in a moment",
}
CODE_TITLES = {
    "sign_in_cancelled": "Sign-in cancelled",
    "sign_in_rejected": "This account cannot sign in here",
}


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
    home: str = "/",
) -> Response:
    """An error as JSON ``{"error": code, "message": ...}`` or as a small HTML page that
    always offers a way back (``links``, else the site's ``home``)."""
    extra = [*headers, *(("Set-Cookie", c) for c in cookies), NO_STORE]
    page = None
    if api:
        body = json.dumps({"error": code, "message": message}).encode()
        content_type = "application/json"
    else:
        ways_back = tuple(Link(text, href) for text, href in links) or (
            Link("Back to the home page", home),
        )
        title = CODE_TITLES.get(code) or TITLES.get(status, "Something went wrong")
        page = Page(PageKind.ERROR, status, code, title, message, ways_back)
        body = render_default(page)
        content_type = "text/html; charset=utf-8"
    return Response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra],
        body,
        page,
    )


def sign_out_confirmation(
    action: str, csrf_token: str, account: str | None = None, cancel_url: str = "/"
) -> Response:
    """GET on the sign-out route: a same-site POST form (a cross-site GET signs no one out)
    naming the account, with a way back."""
    page = Page(
        PageKind.SIGN_OUT,
        200,
        "sign_out",
        "Sign out?",
        f"You are signed in as {account}." if account else "You are signed in.",
        (Link("Cancel", cancel_url),),
        account=account,
        form_action=action,
        csrf_token=csrf_token,
        cancel_url=cancel_url,
    )
    body = render_default(page)
    return Response(
        200,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            NO_STORE,
            ("X-Frame-Options", "DENY"),
        ],
        body,
        page,
    )


def render_default(page: Page) -> bytes:
    """The built-in look of ``page``: plain HTML, every value escaped."""
    e = html.escape
    if page.kind is PageKind.SIGN_OUT:
        content = (
            f"<h1>{e(page.title)}</h1><p>{e(page.message)}</p>"
            f'<form method="post" action="{e(page.form_action)}">'
            f'<input type="hidden" name="csrf_token" value="{e(page.csrf_token)}">'
            '<button type="submit" id="confirm-sign-out">Sign out</button> '
            f'<a href="{e(page.cancel_url)}" id="cancel-sign-out">Cancel</a></form>'
        )
        return _page(page.title, content)
    links = "".join(f'<p><a href="{e(link.href)}">{e(link.text)}</a></p>' for link in page.links)
    return _page(
        page.title,
        f"<h1>{e(page.title)}</h1><p>{e(page.message)}</p>"
        f"<p><small>{e(status_line(page.status))} &middot; {e(page.code)}</small></p>{links}",
    )


def _page(title: str, content: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>{content}</body></html>"
    ).encode()
