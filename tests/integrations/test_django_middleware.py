"""``ThunderIDMiddleware`` in Django's ``MIDDLEWARE``, driven by Django's own test clients
(which call Django past any WSGI/ASGI wrapper) and the test kit: the sync ``Client`` runs
the sync stack, ``AsyncClient`` the async one; sync and async views; signed out a browser
is sent to sign in and code gets 401, signed in without the permission 403 (HTML for a
browser, JSON for code); sign-out and back-channel logout. (The same middleware under
gunicorn and uvicorn: tests/examples/test_framework_examples.py, examples/django_app.py.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from tests.apps.django_views import async_profile, profile
from tests.support.django_project import django_example
from thunderid_mw.integrations.django import require
from thunderid_mw.testing import FakeThunderID

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}
ADA = {"name": "Ada", "roles": ["editor"]}


def home(request: HttpRequest) -> HttpResponse:
    ctx = request.thunderid  # set by the middleware
    return HttpResponse(f"home {ctx.user.get('name') if ctx.is_signed_in else ctx.ended_reason}")


@require(scopes="read:documents")
def documents(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"documents": []})


@require(roles="admin")
async def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"admin": True})


def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse("private")  # protected_paths: the middleware guards it


urlpatterns = [
    path("", home),
    path("profile", profile),
    path("async-profile", async_profile),
    path("documents", documents),
    path("admin", admin),
    path("private", private),
]


@pytest.fixture
def project(thunderid: FakeThunderID, tmp_path: Path) -> Iterator[None]:
    django_example(thunderid.environ(f"sqlite:///{tmp_path}/example.sqlite3"))
    config = thunderid.config(app_url="http://testserver", protected_paths=("/private",))
    with override_settings(ROOT_URLCONF=__name__, THUNDERID=config, ALLOWED_HOSTS=["testserver"]):
        yield


def check_signed_out(answers: dict[str, Any]) -> None:
    for view in ("/profile", "/async-profile", "/private"):
        browser = answers[f"{view} browser"]
        assert browser.status_code == 302, view
        assert browser["Location"] == "/sign-in?return_to=" + view.replace("/", "%2F")
        api = answers[f"{view} api"]
        assert api.status_code == 401, view
        assert api.json()["error"] == "not_signed_in"
        assert api["WWW-Authenticate"].startswith("Bearer ")


def check_signed_in(answers: dict[str, Any]) -> None:
    for view in ("/profile", "/async-profile"):
        user = answers[view].json()
        assert (user["sub"], user["name"], user["roles"]) == ("user-ada", "Ada", ["editor"])
    assert answers["/private"].content == b"private"
    for view in ("/documents", "/admin"):
        api, browser = answers[f"{view} api"], answers[f"{view} browser"]
        assert api.status_code == 403 and api.json()["error"] == "forbidden", view
        assert browser.status_code == 403 and browser["Content-Type"].startswith("text/html")


SIGNED_OUT = [
    (f"{view} {kind}", view, headers)
    for view in ("/profile", "/async-profile", "/private")
    for kind, headers in (("browser", BROWSER), ("api", API))
]
SIGNED_IN = [(view, view, API) for view in ("/profile", "/async-profile", "/private")] + [
    (f"{view} {kind}", view, headers)
    for view in ("/documents", "/admin")
    for kind, headers in (("browser", BROWSER), ("api", API))
]


def test_sync_client(project: None, thunderid: FakeThunderID) -> None:
    client = Client()
    assert client.get("/").content == b"home None"
    check_signed_out({name: client.get(p, headers=h) for name, p, h in SIGNED_OUT})

    assert thunderid.sign_in(client, "user-ada", claims=ADA, return_to="/profile") == "/profile"
    assert client.get("/").content == b"home Ada"
    check_signed_in({name: client.get(p, headers=h) for name, p, h in SIGNED_IN})
    thunderid.expire_tokens()  # the kit reaches the sessions of Django's middleware
    assert client.get("/").content == b"home Ada"
    assert thunderid.provider.refresh_count == 1

    assert thunderid.sign_out(client).startswith(thunderid.provider.issuer)
    assert client.get("/").content == b"home None"  # the cookie is cleared
    thunderid.sign_in(client, "user-ada")
    assert thunderid.back_channel_logout(client, "user-ada") == 200
    assert client.get("/").content == b"home logged_out_by_provider"


async def test_async_client(project: None, thunderid: FakeThunderID) -> None:
    client = AsyncClient()
    assert (await client.get("/")).content == b"home None"
    check_signed_out({name: await client.get(p, headers=h) for name, p, h in SIGNED_OUT})

    signed_in = await thunderid.async_sign_in(client, "user-ada", claims=ADA, return_to="/profile")
    assert signed_in == "/profile"
    assert (await client.get("/")).content == b"home Ada"
    check_signed_in({name: await client.get(p, headers=h) for name, p, h in SIGNED_IN})

    assert (await thunderid.async_sign_out(client)).startswith(thunderid.provider.issuer)
    assert (await client.get("/")).content == b"home None"
    await thunderid.async_sign_in(client, "user-ada")
    assert await thunderid.async_back_channel_logout(client, "user-ada") == 200
    assert (await client.get("/")).content == b"home logged_out_by_provider"
    await thunderid.async_sign_in(client, "user-ada")
    thunderid.expire_sessions()
    assert (await client.get("/")).content == b"home expired"


def test_a_wrong_thunderid_setting_is_named(project: None) -> None:
    with (
        override_settings(THUNDERID={"base_url": "https://id.example"}),
        pytest.raises(ImproperlyConfigured, match=r"settings\.THUNDERID must be .*not dict"),
    ):
        Client().get("/")


def test_no_setting_and_no_environment_names_both(
    project: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("THUNDERID_"):
            monkeypatch.delenv(name)
    with (
        override_settings(THUNDERID=None),
        pytest.raises(ImproperlyConfigured, match=r"THUNDERID is not set.*THUNDERID_CLIENT_ID"),
    ):
        Client().get("/")


def test_an_application_already_wrapped_is_left_to_the_wrapper(
    project: None, thunderid: FakeThunderID
) -> None:
    """Both installed (the WSGI wrapper and the class): the wrapper decides, the class only
    passes its context on, so a session of the wrapper's is the one the views see."""
    from django.core.handlers.wsgi import WSGIHandler

    from thunderid_mw import ThunderIDWSGIMiddleware

    wrapped = ThunderIDWSGIMiddleware(WSGIHandler(), thunderid.config(app_url="http://testserver"))
    transport = httpx.WSGITransport(app=wrapped)
    with httpx.Client(transport=transport, base_url="http://testserver") as browser:
        thunderid.sign_in(browser, "user-ada", claims=ADA)
        assert browser.get("/").text == "home Ada"
