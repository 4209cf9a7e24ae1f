"""The pages the middleware shows browsers (core/responses.py ``Page``): friendlier
defaults and the app's ``render_page``, on both adapters, through the real middleware and
the test kit's fake provider."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Receive, Scope, Send
from thunderid_mw.core.responses import Page, PageBody, PageKind
from thunderid_mw.integrations import Requirement, authorize
from thunderid_mw.testing import FakeThunderID

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
WSGI_URL = "http://app.test"
ASGI_URL = "http://testserver"  # starlette's TestClient


def wsgi_page(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"signed in" if environ["thunderid"].is_signed_in else b"signed out"]


async def asgi_page(scope: Scope, receive: Receive, send: Send) -> None:
    body = b"signed in" if scope["thunderid"].is_signed_in else b"signed out"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=["wsgi", "asgi"])
def make_client(request: pytest.FixtureRequest, thunderid: FakeThunderID) -> Callable[..., Any]:
    """An app with the kit's settings (``**overrides``), and a sync client for it."""

    def make(**overrides: Any) -> httpx.Client:
        if request.param == "wsgi":
            config = thunderid.config(WSGI_URL, **overrides)
            app = ThunderIDWSGIMiddleware(wsgi_page, config)
            return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=WSGI_URL)
        return TestClient(
            ThunderIDASGIMiddleware(asgi_page, thunderid.config(ASGI_URL, **overrides))
        )

    return make


def links(page: str) -> dict[str, str]:
    """The page's links: text -> href."""
    found = re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', page)
    return {html.unescape(text): html.unescape(href) for href, text in found}


def test_sign_out_confirmation_names_the_account_and_can_be_cancelled(
    thunderid: FakeThunderID, make_client: Callable[..., httpx.Client]
) -> None:
    client = make_client()
    thunderid.sign_in(client, claims={"name": "Ada <Lovelace>"})
    page = client.get("/sign-out", params={"return_to": "/orders?id=7"}, headers=BROWSER)
    assert page.status_code == 200
    assert "Ada &lt;Lovelace&gt;" in page.text and "<Lovelace>" not in page.text
    assert links(page.text)["Cancel"] == "/orders?id=7"
    elsewhere = client.get("/sign-out", params={"return_to": "//evil.test/"}, headers=BROWSER)
    assert links(elsewhere.text)["Cancel"] == "/"  # never another site
    assert links(client.get("/sign-out", headers=BROWSER).text)["Cancel"] == "/"
    assert client.get("/").text == "signed in"  # looking at the page signs no one out


def test_sign_out_page_without_a_live_session_goes_straight_on(
    thunderid: FakeThunderID, make_client: Callable[..., httpx.Client]
) -> None:
    client = make_client()
    thunderid.sign_in(client)
    thunderid.expire_sessions()
    assert client.get("/").text == "signed out"
    answer = client.get("/sign-out", headers=BROWSER, follow_redirects=False)
    assert answer.status_code == 302


def begin(client: httpx.Client, return_to: str) -> dict[str, str]:
    """Start a sign-in; the authorization request's parameters."""
    started = client.get(
        "/sign-in", params={"return_to": return_to}, headers=BROWSER, follow_redirects=False
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}


def test_cancelling_at_the_provider_is_a_friendly_page_back_to_where_the_user_was(
    thunderid: FakeThunderID,
    make_client: Callable[..., httpx.Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="thunderid_mw")
    client = make_client()
    sent = begin(client, "/orders?id=7")
    page = client.get(
        "/callback",
        params={"error": "access_denied", "state": sent["state"], "iss": thunderid.provider.issuer},
        headers=BROWSER,
    )
    assert page.status_code == 403
    assert "<h1>Sign-in cancelled</h1>" in page.text
    assert "Forbidden</h1>" not in page.text and "<title>403" not in page.text
    ways = links(page.text)
    assert ways["Sign in again"] == "/sign-in?return_to=%2Forders%3Fid%3D7"
    assert ways["Back to the home page"] == "/"
    failed = [r for r in caplog.records if getattr(r, "event", "") == "sign_in.failed"]
    assert [r.levelno for r in failed] == [logging.INFO]  # the user's choice, not a fault
    again = client.get(ways["Sign in again"], headers=BROWSER, follow_redirects=False)
    assert again.status_code == 302  # off to the provider again, for /orders?id=7


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/sign-in?return_to=https%3A%2F%2Fevil.test%2F", "GET", 400),
        ("/sign-out", "PUT", 405),
        ("/callback?state=made-up&code=x", "GET", 400),
        ("/private", "POST", 401),
    ],
)
def test_every_error_page_has_a_way_back(
    make_client: Callable[..., httpx.Client], path: str, method: str, status: int
) -> None:
    client = make_client(protected_paths=("/private",))
    page = client.request(method, path, headers=BROWSER, follow_redirects=False)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert links(page.text), page.text


def test_the_app_draws_the_pages(
    thunderid: FakeThunderID, make_client: Callable[..., httpx.Client]
) -> None:
    seen: list[Page] = []

    def render(page: Page) -> PageBody | str | None:
        seen.append(page)
        if page.kind is PageKind.SIGN_OUT:
            return (
                f"<main>Leave, {html.escape(page.account or '')}?"
                f'<form method="post" action="{page.form_action}">'
                f'<input name="csrf_token" value="{page.csrf_token}"></form>'
                f'<a href="{page.cancel_url}">Stay</a></main>'
            )
        if page.code == "bad_return_to":
            return None  # the built-in page
        return PageBody(f'{{"oops": "{page.code}"}}'.encode(), "application/problem+json")

    client = make_client(render_page=render)
    thunderid.sign_in(client, claims={"name": "Ada"})
    confirm = client.get("/sign-out", headers=BROWSER)
    assert confirm.text.startswith("<main>Leave, Ada?")
    assert confirm.headers["content-length"] == str(len(confirm.content))
    assert confirm.headers["x-frame-options"] == "DENY"  # the page's headers are kept
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text)
    assert token is not None
    # The app's form signs out: it carries the same CSRF token.
    out = client.post("/sign-out", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/").text == "signed out"

    refused = client.put("/sign-out", headers=BROWSER)
    assert refused.status_code == 405
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {"oops": "method_not_allowed"}
    default = client.get("/sign-in?return_to=https%3A%2F%2Fevil.test%2F", headers=BROWSER)
    assert "Back to the home page" in default.text
    api = client.put("/sign-out", headers={"Accept": "application/json"})
    assert api.json()["error"] == "method_not_allowed"  # JSON answers are never drawn
    assert [p.code for p in seen] == ["sign_out", "method_not_allowed", "bad_return_to"]


def test_a_failing_renderer_falls_back_to_the_built_in_page(
    make_client: Callable[..., httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(page: Page) -> str:
        raise KeyError("template missing")

    caplog.set_level(logging.ERROR, logger="thunderid_mw")
    client = make_client(render_page=broken)
    page = client.put("/sign-out", headers=BROWSER)
    assert page.status_code == 405 and "Back to the home page" in page.text
    assert [r for r in caplog.records if getattr(r, "event", "") == "page.render_failed"]


def test_the_framework_helpers_answer_with_the_apps_pages(thunderid: FakeThunderID) -> None:
    """``thunderid_mw.integrations`` (what every framework helper answers with) draws its
    403 and its 401 pages with ``render_page`` too."""

    def admin_only(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refused = authorize(environ, Requirement(scopes=frozenset({"admin"})))
        if refused is not None:
            start_response(f"{refused.status} Refused", refused.headers)
            return [refused.body]
        start_response("200 OK", [])
        return [b"admin"]

    def render(page: Page) -> str:
        return f"<p>custom {page.code}</p>"

    config = thunderid.config(WSGI_URL, render_page=render)
    app = ThunderIDWSGIMiddleware(admin_only, config)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=WSGI_URL) as client:
        api = client.post("/admin", headers={"Accept": "application/json"})
        assert api.status_code == 401 and api.json()["error"] == "not_signed_in"
        page = client.post("/admin", headers=BROWSER)
        assert page.status_code == 401 and page.text == "<p>custom not_signed_in</p>"
        thunderid.sign_in(client)
        page = client.get("/admin", headers=BROWSER)
        assert page.status_code == 403 and page.text == "<p>custom forbidden</p>"
        assert page.headers["content-length"] == str(len(page.content))
