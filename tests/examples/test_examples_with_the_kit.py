"""The examples' own tests, written as a user of this package would write them: with the
test kit (``thunderid`` fixture, docs/testing-your-app.md) and no identity provider, each
example is imported with the kit's settings, a user is signed in through the real
middleware, and the pages show it. (Sanic needs its own server; the Flask and FastAPI
guide apps call the protected API on their profile page, so here only their home page and
sign-out are checked: the rest is signed in on real servers, with that API, in
test_framework_examples.py and test_examples.py. Django configures its settings once per
process: this is the only in-process import of examples/django_app.py.)"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from starlette.testclient import TestClient

from tests.support.servers import REPO_ROOT
from thunderid_mw.testing import FakeThunderID

APP_URL = "http://127.0.0.1:5998"
WSGI = {
    "falcon_app": "application",
    "bottle_app": "application",
    "pyramid_app": "application",
    "django_app": "application",
}
ASGI = {"starlette_app": "app", "quart_app": "app", "litestar_app": "app"}
_fresh = itertools.count()


def import_example(
    name: str, thunderid: FakeThunderID, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ModuleType:
    """A fresh import of examples/NAME.py, reading the kit's THUNDERID_* settings."""
    for variable, value in thunderid.environ(
        f"sqlite:///{tmp_path}/sessions.sqlite3", app_url=APP_URL
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


def check_pages(home: httpx.Response, profile: httpx.Response, signed_out_home: str) -> None:
    assert profile.status_code == 200, profile.text
    assert 'class="claim-name">Ada Lovelace<' in profile.text
    assert 'class="claim-sub">user-ada<' in profile.text
    assert "Hello, Ada Lovelace" in home.text and 'id="sign-out"' in home.text
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
