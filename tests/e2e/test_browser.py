"""A real headless browser (Debian's chromium through Playwright) signs in and out of the
WSGI app under gunicorn and the ASGI app under uvicorn, through the IdP's own login page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.flows import COOKIE
from tests.support.idp import IdP
from tests.support.servers import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STEP_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_sign_in_and_out_in_a_browser(
    chromium: Any, app: Server, idp: IdP, adapter: str, tmp_path: Path
) -> None:
    context = chromium.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(app.url + "/private")
        assert page.url.startswith(idp.issuer + "/interaction/"), page.url
        page.fill('input[name="username"]', "alice")
        page.fill('input[name="password"]', idp.users["alice"])
        page.click('button[type="submit"]')
        page.wait_for_url(app.url + "/private")
        assert page.inner_text("body") == "private sub=user-alice"
        page.screenshot(path=str(tmp_path / f"{adapter}-signed-in.png"))

        cookies = {c["name"]: c for c in context.cookies(app.url)}
        session = cookies[COOKIE]
        assert session["httpOnly"] is True and session["sameSite"] == "Lax"
        assert session["secure"] is False  # http app
        assert page.evaluate("document.cookie").find(COOKIE) < 0  # invisible to scripts

        page.goto(app.url + "/sign-out")
        assert page.url == app.url + "/sign-out"  # a GET only asks
        page.click("#confirm-sign-out")  # POST; the IdP's logout page submits itself
        # Back with the sign-out state, checked and dropped: after_sign_out_url as it is.
        page.wait_for_url(app.url + "/public")
        assert page.inner_text("body").startswith("public signed_in=False")
        page.screenshot(path=str(tmp_path / f"{adapter}-signed-out.png"))
        assert {COOKIE, COOKIE + ".so"}.isdisjoint(c["name"] for c in context.cookies(app.url))

        page.goto(app.url + "/private")  # signed out at the IdP too: the login form again
        assert page.url.startswith(idp.issuer + "/interaction/"), page.url
        assert page.is_visible('input[name="password"]')
    finally:
        context.close()
