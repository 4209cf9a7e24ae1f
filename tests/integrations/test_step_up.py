"""Step-up on real servers against the test IdP: Flask and Pyramid under gunicorn and
FastAPI under uvicorn (tests/apps/step_up_views.py). A signed-in user whose ``acr`` or ``auth_time``
does not meet a requirement (a path requirement, or the framework helper's ``acr=`` /
``max_age=``) is sent to authenticate again and comes back; code gets 401
``insufficient_user_authentication``; a provider that does not give the acr asked for
ends in one 403 page, not a loop, and the earlier session is kept. (oidc-provider always
honours max_age, so a stale auth_time after a step-up is left to the core's unit tests.)"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port

MFA = "urn:thunderid:test:mfa"
PASSWORD = "urn:thunderid:test:password"
BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}
HOUR_AGO = int(time.time()) - 3600  # an IdP login long past any max_age below
SERVERS = {
    "flask-gunicorn": ("gunicorn", "tests.apps.step_up_views:wsgi_app"),
    "fastapi-uvicorn": ("uvicorn", "tests.apps.step_up_views:asgi_app"),
    "pyramid-gunicorn": ("gunicorn", "tests.apps.step_up_views:pyramid_app"),
}


@pytest.fixture(params=sorted(SERVERS))
def server(
    request: pytest.FixtureRequest, idp: IdP, serve: Callable[..., Server], tmp_path: Path
) -> Server:
    kind, app = SERVERS[request.param]
    port = free_port()
    env = app_env(
        idp,
        port,
        f"sqlite:///{tmp_path}/s.sqlite3",
        THUNDERID_PATH_REQUIREMENTS=f"/billing acr={MFA}",
        THUNDERID_SIGN_IN_ACR_VALUES=f"{MFA} {PASSWORD}",
    )
    return serve(kind, app, env, port=port)


@pytest.fixture
def browser(idp: IdP) -> Iterator[httpx.Client]:
    """The user's browser at the IdP (its cookies hold the IdP session)."""
    with httpx.Client(verify=idp.verify, timeout=30.0) as client:
        yield client


def go_through_sign_in(
    app: httpx.Client, idp: IdP, browser: httpx.Client, sign_in: str, **login: object
) -> httpx.Response:
    """From an app-relative /sign-in URL: the IdP login (``login``: acr, auth_time), then
    the app's callback answer (not followed)."""
    start = app.get(sign_in)
    assert start.status_code == 302, start.text
    callback = idp.login(browser, start.headers["location"], "alice", **login)  # type: ignore[arg-type]
    assert callback.startswith(str(app.base_url)), callback
    return app.get(callback[len(str(app.base_url)) :], headers=BROWSER)


@pytest.fixture
def app(server: Server) -> Iterator[httpx.Client]:
    """The user's browser at the app."""
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client


def sign_in(
    app: httpx.Client, idp: IdP, browser: httpx.Client, query: str, **login: object
) -> None:
    """A first sign-in; ``query`` asks for the acr or auth_time (oidc-provider puts them
    in the ID token only when asked)."""
    done = go_through_sign_in(app, idp, browser, f"/sign-in?return_to=/profile&{query}", **login)
    assert done.status_code == 302 and done.headers["location"] == "/profile", done.text


def step_up_link(response: httpx.Response, path: str) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    # WebOb (Pyramid) makes every Location absolute, on the request's own origin.
    origin = f"{response.request.url.scheme}://{response.request.url.netloc.decode()}"
    location = response.headers["location"].removeprefix(origin)
    assert location.startswith("/sign-in?"), location
    query = parse_qs(urlsplit(location).query)
    assert query["return_to"] == [path] and query["prompt"] == ["login"]
    return query


@pytest.mark.parametrize("path", ["/billing", "/strong"])  # path requirement, helper
def test_a_weaker_sign_in_is_stepped_up_to_the_acr_and_back(
    app: httpx.Client, idp: IdP, browser: httpx.Client, path: str
) -> None:
    sign_in(app, idp, browser, f"acr_values={PASSWORD}", acr=PASSWORD)
    assert app.get("/profile", headers=API).json()["acr"] == PASSWORD
    api = app.get(path, headers=API)
    assert api.status_code == 401, api.text
    assert api.json()["error"] == "insufficient_user_authentication"
    challenge = api.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert f'acr_values="{MFA}"' in challenge

    page = app.get(path, headers=BROWSER)
    assert step_up_link(page, path)["acr_values"] == [MFA]
    back = go_through_sign_in(app, idp, browser, page.headers["location"], acr=MFA)
    assert back.status_code == 302 and back.headers["location"] == path, back.text
    assert app.get(path, headers=API).json() == {
        **app.get("/profile", headers=API).json(),
        "acr": MFA,
    }


def test_a_provider_that_does_not_give_the_acr_ends_in_a_403_page_not_a_loop(
    app: httpx.Client, idp: IdP, browser: httpx.Client
) -> None:
    sign_in(app, idp, browser, f"acr_values={PASSWORD}", acr=PASSWORD)
    page = app.get("/strong", headers=BROWSER)
    failed = go_through_sign_in(app, idp, browser, page.headers["location"], acr=PASSWORD)
    assert failed.status_code == 403, failed.text
    assert "acr_not_met" in failed.text and MFA in failed.text
    # The earlier session is still there, as it was.
    assert app.get("/profile", headers=API).json()["acr"] == PASSWORD


def test_an_old_authentication_is_refreshed_for_max_age(
    app: httpx.Client, idp: IdP, browser: httpx.Client
) -> None:
    sign_in(app, idp, browser, "max_age=86400", auth_time=HOUR_AGO)
    assert app.get("/profile", headers=API).json()["auth_time"] == HOUR_AGO
    api = app.get("/recent", headers=API)
    assert api.status_code == 401 and 'max_age="300"' in api.headers["www-authenticate"]
    page = app.get("/recent", headers=BROWSER)
    assert step_up_link(page, "/recent")["max_age"] == ["300"]
    back = go_through_sign_in(app, idp, browser, page.headers["location"])
    assert back.status_code == 302 and back.headers["location"] == "/recent", back.text
    assert app.get("/recent", headers=API).json()["auth_time"] > HOUR_AGO
