"""The examples' own tests, written as a user of this package would write them: with the
test kit (``thunderid`` fixture, docs/testing-your-app.md) and no identity provider, each
example is imported with the kit's settings, a user is signed in through the real
middleware, and the pages show it. Sanic's app is driven by Sanic's own test client
(sanic-testing's ``app.asgi_client``) and Django's by Django's ``Client`` and
``AsyncClient``. (The Flask and FastAPI guide apps call the protected API on their
profile page, so here only their home page and sign-out are checked: the rest is signed
in on real servers, with that API, in test_framework_examples.py and test_examples.py.)"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from django.test import AsyncClient, Client
from sanic import Sanic
from starlette.testclient import TestClient

from tests.support.django_project import django_example
from tests.support.servers import REPO_ROOT
from thunderid_mw.testing import FakeThunderID

APP_URL = "http://127.0.0.1:5998"
WSGI = {
    "falcon_app": "application",
    "bottle_app": "application",
    "pyramid_app": "application",
}
ASGI = {"starlette_app": "app", "quart_app": "app", "litestar_app": "app"}
_fresh = itertools.count()


def import_example(
    name: str,
    thunderid: FakeThunderID,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_url: str = APP_URL,
) -> ModuleType:
    """A fresh import of examples/NAME.py, reading the kit's THUNDERID_* settings."""
    for variable, value in thunderid.environ(
        f"sqlite:///{tmp_path}/sessions.sqlite3", app_url=app_url
    ).items():
        monkeypatch.setenv(variable, value)
    spec = importlib.util.spec_from_file_location(
        f"kit_example_{name}_{next(_fresh)}", REPO_ROOT / "examples" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # frameworks look modules up
    spec.loader.exec_module(module)
    return module


def check_pages(home: Any, profile: Any, signed_out_home: str) -> None:
    """``home`` and ``profile``: httpx or Django responses."""
    profile_text, home_text = profile.content.decode(), home.content.decode()
    assert profile.status_code == 200, profile_text
    assert 'class="claim-name">Ada Lovelace<' in profile_text
    assert 'class="claim-sub">user-ada<' in profile_text
    assert "Hello, Ada Lovelace" in home_text and 'id="sign-out"' in home_text
    assert 'id="sign-in"' in signed_out_home


@pytest.mark.parametrize("name", WSGI)
def test_wsgi_example_with_the_kit(
    name: str, thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = getattr(import_example(name, thunderid, tmp_path, monkeypatch), WSGI[name])
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=APP_URL) as browser:
        signed_out = browser.get("/").text
        thunderid.sign_in(browser, "user-ada", claims={"name": "Ada Lovelace"})
        check_pages(browser.get("/"), browser.get("/profile"), signed_out)


@pytest.mark.parametrize("name", ASGI)
async def test_asgi_example_with_the_kit(
    name: str, thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = getattr(import_example(name, thunderid, tmp_path, monkeypatch), ASGI[name])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP_URL) as browser:
        signed_out = (await browser.get("/")).text
        await thunderid.async_sign_in(browser, "user-ada", claims={"name": "Ada Lovelace"})
        check_pages(await browser.get("/"), await browser.get("/profile"), signed_out)


@pytest.mark.parametrize("name", ["flask_app", "fastapi_app"])
def test_guide_example_with_the_kit(
    name: str, thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = import_example(name, thunderid, tmp_path, monkeypatch).app
    # starlette's TestClient runs FastAPI's lifespan; Flask goes over WSGI.
    browser: httpx.Client = (
        httpx.Client(transport=httpx.WSGITransport(app=app), base_url=APP_URL)
        if name == "flask_app"
        else TestClient(app, base_url=APP_URL)
    )
    with browser:
        thunderid.sign_in(browser, "user-ada", claims={"name": "Ada Lovelace"})
        assert "Ada Lovelace" in browser.get("/").text
        thunderid.sign_out(browser)
        assert "Ada Lovelace" not in browser.get("/").text


async def test_sanic_example_with_sanics_test_client(
    thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)  # each test imports a new app of one name
    sanic_url = "http://mockserver:1234"  # where sanic-testing's asgi_client sends requests
    app = import_example("sanic_app", thunderid, tmp_path, monkeypatch, sanic_url).app
    browser = app.asgi_client  # sanic-testing: answers (request, response)
    _, signed_out = await browser.get("/")
    await thunderid.async_sign_in(browser, "user-ada", claims={"name": "Ada Lovelace"})
    (_, home), (_, profile) = await browser.get("/"), await browser.get("/profile")
    check_pages(home, profile, signed_out.text)
    assert (await thunderid.async_sign_out(browser)).startswith(thunderid.provider.issuer)
    _, signed_out_again = await browser.get("/")
    assert 'id="sign-in"' in signed_out_again.text


def test_django_example_with_djangos_test_client(
    thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = thunderid.environ(f"sqlite:///{tmp_path}/s.sqlite3", app_url="http://testserver")
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)  # read by each client's ThunderIDMiddleware
    django_example(variables)
    browser = Client()
    signed_out = browser.get("/").content.decode()
    thunderid.sign_in(browser, "user-ada", claims={"name": "Ada Lovelace"})
    check_pages(browser.get("/"), browser.get("/profile"), signed_out)


async def test_django_example_with_djangos_async_client(
    thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = thunderid.environ(f"sqlite:///{tmp_path}/s.sqlite3", app_url="http://testserver")
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    django_example(variables)
    browser = AsyncClient()
    signed_out = (await browser.get("/")).content.decode()
    await thunderid.async_sign_in(browser, "user-ada", claims={"name": "Ada Lovelace"})
    check_pages(await browser.get("/"), await browser.get("/profile"), signed_out)
