"""Step-up at sign-in: /sign-in passes prompt and max_age on to the IdP, so a user who
already has an IdP session is asked for the password again; then lands on the page.
Same for gunicorn (WSGI) and uvicorn (ASGI)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.flows import BROWSER, assert_signed_in, idp_callback, leave_idp, query_of
from tests.support.idp import IdP
from tests.support.servers import Server


def _sign_in_url(client: httpx.Client, **step_up: str) -> str:
    response = client.get("/sign-in", params={"return_to": "/private", **step_up}, headers=BROWSER)
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


@pytest.mark.parametrize("step_up", [{"prompt": "login"}, {"max_age": "0"}])
def test_step_up_asks_for_the_password_again(
    app: Server, idp: IdP, step_up: dict[str, str]
) -> None:
    with (
        httpx.Client(base_url=app.url, timeout=30.0) as client,
        httpx.Client(verify=idp.verify, timeout=30.0) as browser,
    ):
        first = client.get(idp_callback(idp, _sign_in_url(client), browser=browser))
        assert first.status_code == 302, first.text
        # Without step-up the IdP session signs the user in silently.
        assert leave_idp(idp, browser, _sign_in_url(client)).startswith(app.url)

        authorize = _sign_in_url(client, **step_up, login_hint="mallory")
        assert query_of(authorize).items() >= step_up.items()
        assert "login_hint" not in query_of(authorize)
        page = browser.get(authorize, follow_redirects=True)
        assert 'name="password"' in page.text

        again = client.get(idp_callback(idp, authorize, browser=browser), headers=BROWSER)
        assert again.status_code == 302 and again.headers["location"] == "/private"
        assert_signed_in(client, "user-alice")
