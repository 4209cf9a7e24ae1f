"""Sign-out end to end: a GET only shows a confirmation page, a cross-site POST is refused,
the confirmed POST ends the session and sends the browser through the IdP's end-session
endpoint back to the post-logout URL. Same for gunicorn (WSGI) and uvicorn (ASGI)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.flows import (
    API,
    BROWSER,
    COOKIE,
    assert_clean_error,
    assert_signed_in,
    assert_signed_out,
    begin_sign_in,
    idp_callback,
    query_of,
    set_cookies,
)
from tests.support.idp import IdP
from tests.support.servers import Server

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def alice(app: Server, idp: IdP) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """(app client, IdP browser) of Alice, signed in on both."""
    with (
        httpx.Client(base_url=app.url, timeout=30.0) as client,
        httpx.Client(verify=idp.verify, timeout=30.0) as browser,
    ):
        started = begin_sign_in(client)
        response = client.get(
            idp_callback(idp, started.authorize_url, browser=browser), headers=BROWSER
        )
        assert response.status_code == 302, response.text
        yield client, browser


def _confirmation(client: httpx.Client) -> str:
    page = client.get("/sign-out", headers=BROWSER)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/sign-out">' in page.text
    match = CSRF_FIELD.search(page.text)
    assert match, page.text
    return match.group(1)


def test_get_only_asks_for_confirmation(
    app: Server, alice: tuple[httpx.Client, httpx.Client]
) -> None:
    client, _ = alice
    _confirmation(client)
    # A cross-site GET (an <img src=/sign-out>, a link) signs nobody out either.
    page = client.get("/sign-out", headers={**BROWSER, "Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 200
    assert COOKIE + "=" not in page.headers.get("set-cookie", "")
    assert_signed_in(client, "user-alice")


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        ({"Origin": "https://evil.example"}, True),
        ({"Origin": "https://evil.example"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({}, False),
    ],
    ids=["foreign-origin-with-token", "foreign-origin", "cross-site", "no-token"],
)
def test_cross_site_post_is_refused(
    app: Server,
    alice: tuple[httpx.Client, httpx.Client],
    headers: dict[str, str],
    with_token: bool,
) -> None:
    client, _ = alice
    token = _confirmation(client)
    form = {"csrf_token": token} if with_token else {}
    response = client.post("/sign-out", data=form, headers={**BROWSER, **headers})
    assert_clean_error(response, 403, "cross_site_sign_out", api=False)
    assert COOKIE + "=" not in response.headers.get("set-cookie", "")
    assert_signed_in(client, "user-alice")


def test_confirmed_sign_out(
    app: Server, idp: IdP, alice: tuple[httpx.Client, httpx.Client], bystander: httpx.Client
) -> None:
    client, browser = alice
    old = client.cookies[COOKIE]
    token = _confirmation(client)
    response = client.post(
        "/sign-out",
        data={"csrf_token": token},
        headers={**BROWSER, "Origin": app.url, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(idp.metadata["end_session_endpoint"] + "?")
    params = query_of(location)
    assert params["post_logout_redirect_uri"] == app.url + "/public"
    assert params["id_token_hint"].count(".") == 2  # the session's ID token (a JWT)
    assert set_cookies(response)[COOKIE].deleted
    assert COOKIE not in client.cookies

    # A fresh state, bound to this browser by a short-lived cookie, comes back with it.
    state = params["state"]
    assert set_cookies(response)[COOKIE + ".so"].value == state
    landed = idp.logout(browser, location)
    assert landed == app.url + "/public?state=" + state
    checked = client.get(landed[len(app.url) :])
    assert checked.status_code == 303, checked.text
    assert checked.headers["location"] == app.url + "/public"  # the state checked, dropped
    assert set_cookies(checked)[COOKIE + ".so"].deleted
    public = client.get("/public")
    assert public.status_code == 200
    assert public.text == "public signed_in=False ended=None"  # the cookie is gone

    # The old cookie, presented again, is a session that ended by signing out.
    assert_signed_out(app.url, old, ended="signed_out")
    # And the IdP session is over too: a new sign-in asks for the password again.
    started = begin_sign_in(client)
    again = browser.get(started.authorize_url, follow_redirects=True)
    assert 'name="password"' in again.text
    assert_signed_in(bystander, "user-bob")


def test_sign_out_post_from_code_is_json(
    app: Server, alice: tuple[httpx.Client, httpx.Client]
) -> None:
    client, _ = alice
    response = client.post("/sign-out", headers={**API, "Sec-Fetch-Site": "cross-site"})
    assert_clean_error(response, 403, "cross_site_sign_out", api=True)
    assert_signed_in(client, "user-alice")


def test_a_return_with_a_foreign_state_still_lands_signed_out(
    app: Server, idp: IdP, alice: tuple[httpx.Client, httpx.Client]
) -> None:
    """A state this browser did not send (a forged or replayed return) is logged, and the
    user, who has signed out either way, goes on to after_sign_out_url: no error page."""
    client = alice[0]
    response = client.post(
        "/sign-out",
        data={"csrf_token": _confirmation(client)},
        headers={**BROWSER, "Origin": app.url, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303, response.text
    forged = client.get("/public?state=not-the-one-we-sent", headers=BROWSER)
    assert forged.status_code == 303, forged.text
    assert forged.headers["location"] == app.url + "/public"
    deadline = time.monotonic() + 30.0  # the server's log reaches the file a little later
    while "sign_out.state_mismatch" not in app.log():
        assert time.monotonic() < deadline, f"no sign_out.state_mismatch:\n{app.log()[-2000:]}"
        time.sleep(0.1)
    # Without the cookie (or without a state) the page is the app's own, untouched.
    assert client.get("/public?state=again").status_code == 200
