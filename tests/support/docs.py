"""Running the docs' code: every ```python block tagged ``title="NAME.py"`` in README.md and
docs/**/*.md is part of a runnable module (the blocks of one NAME, joined in order). A test
marks itself with ``@runs(NAME)`` and imports the module with the ``load`` fixture
(THUNDERID_* pointing at the test IdP), then drives its app in-process with ``run_wsgi`` or
``run_asgi``: WSGI through ``httpx.WSGITransport``, ASGI through ``httpx.ASGITransport``.
Registered as a pytest plugin by tests/conftest.py."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.protected_api import ProtectedAPI
from tests.support.servers import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
# README.md, the guides and the framework pages.
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# ``title="NAME.py"`` is also what the docs site (pymdownx.superfences) shows above the block.
BLOCK = re.compile(r'^```python[ \t]+title="([^"]+)"[^\n]*\n(.*?)^```[ \t]*$', re.M | re.S)
# The old ``file=NAME.py`` tag is no longer run, and the site renders its block as text.
OLD_TAG = re.compile(r"^```python[ \t]+file=", re.M)
APP = "http://127.0.0.1:5999"  # the in-process app's origin (any loopback URL will do)
BROWSER = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
FETCH = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def runnable_modules() -> dict[str, tuple[Path, str]]:
    """module file name -> (the document, its joined source)."""
    found: dict[str, tuple[Path, str]] = {}
    for doc in DOCS:
        for match in BLOCK.finditer(doc.read_text()):
            name, code = match.group(1), match.group(2)
            if name in found and found[name][0] != doc:
                raise AssertionError(f"{name} has blocks in {found[name][0]} and {doc}")
            source = found[name][1] if name in found else ""
            found[name] = (doc, source + code + "\n")
    return found


MODULES = runnable_modules()
TESTED: set[str] = set()
_counter = itertools.count()


def runs(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a test as the one that runs the docs module ``name``."""
    TESTED.add(name)
    return lambda test: test


@pytest.fixture
def doc_env(idp: IdP, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("THUNDERID_"):
            monkeypatch.delenv(name)
    env = {
        "THUNDERID_BASE_URL": idp.issuer,
        "THUNDERID_CLIENT_ID": idp.conf_client_id,
        "THUNDERID_CLIENT_SECRET": idp.conf_client_secret,
        "THUNDERID_AFTER_SIGN_IN_URL": APP + "/callback",
        "THUNDERID_AFTER_SIGN_OUT_URL": APP + "/",
        "THUNDERID_SECRET": TEST_SECRET,
        "THUNDERID_STORE": "memory://",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # anything a module writes lands here
    return env


@pytest.fixture
def load(doc_env: dict[str, str], tmp_path: Path) -> Callable[[str], ModuleType]:
    """Import the docs module ``name`` (written to tmp_path) with the docs environment."""

    def loader(name: str) -> ModuleType:
        assert name in TESTED, f"{name}: mark the test with @runs({name!r})"
        _, source = MODULES[name]
        path = tmp_path / name
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(f"docs_{path.stem}_{next(_counter)}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # As an import would: frameworks look their handlers' module up (type hints,
        # Pyramid's caller package).
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    return loader


@pytest.fixture
def api_env(protected_api: ProtectedAPI, monkeypatch: pytest.MonkeyPatch) -> ProtectedAPI:
    monkeypatch.setenv("PROFILE_API_URL", protected_api.url)
    return protected_api


# -- driving an app in-process ------------------------------------------------------------


@dataclass
class Driver:
    """Blocking ``get``/``post`` against an app (WSGI directly, ASGI through the loop, or
    a real server at ``origin``)."""

    get: Callable[..., httpx.Response]
    post: Callable[..., httpx.Response]
    origin: str = APP


def run_wsgi(app: Any, check: Callable[..., None], *args: Any) -> None:
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=APP, timeout=30) as http:
        check(Driver(http.get, http.post), *args)


async def run_asgi(app: Any, check: Callable[..., None], *args: Any) -> None:
    """Run the synchronous ``check`` in a worker thread; each of its requests runs on this
    event loop (where the app's async clients live)."""
    loop = asyncio.get_running_loop()
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url=APP, timeout=30) as http:

        def blocking(method: Callable[..., Awaitable[httpx.Response]]) -> Any:
            def call(*a: Any, **kw: Any) -> httpx.Response:
                async def run() -> httpx.Response:
                    return await method(*a, **kw)

                return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=60)

            return call

        await asyncio.to_thread(check, Driver(blocking(http.get), blocking(http.post)), *args)


def login(idp: IdP, authorize_url: str, username: str = "alice", origin: str = APP) -> str:
    """Sign in at the IdP's form; the callback path (and query) on the app at ``origin``."""
    with httpx.Client(timeout=10) as browser:
        callback = idp.login(browser, authorize_url, username)
    assert callback.startswith(origin + "/"), callback
    return callback[len(origin) :]


def sign_in(app: Driver, idp: IdP, return_to: str = "/", username: str = "alice") -> None:
    start = app.get("/sign-in", params={"return_to": return_to})
    assert start.status_code == 302, start.text
    done = app.get(login(idp, start.headers["location"], username, app.origin))
    assert done.status_code == 302, done.text
    assert done.headers["location"] == return_to


def config_from_shell_block(page: Path, env: dict[str, str]) -> Any:
    """The ``ThunderIDConfig`` that ``page``'s ```sh block of ``export`` lines makes, on top
    of ``env`` (so a page's shell block can be checked against its Python block)."""
    from thunderid_mw import ThunderIDConfig

    shell = re.search(r"```sh\n(.*?)```", page.read_text(), re.S)
    assert shell, f"{page.name} has no shell block"
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in shell.group(1).splitlines()
    )
    return ThunderIDConfig.from_env({**env, **{k: v.strip('"') for k, v in exported.items()}})


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def assert_api_challenge(response: httpx.Response, exact_body: bool = True) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer ")
    if exact_body:
        assert response.json()["error"] == "not_signed_in"
