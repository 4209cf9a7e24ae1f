"""The framework pages' code runs (docs/frameworks/*.md): each page's app is imported as
written, with THUNDERID_* pointing at the test IdP, and behaves as the page says —
signed out, a browser is sent to sign in and back while code gets 401; signed in, the
user's claims come back; signed in without the permission, 403. WSGI and ASGI apps run
in-process; Sanic's app runs on Sanic's own server and the Django project under gunicorn
and uvicorn, as users run them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.support.docs import (
    BROWSER,
    FETCH,
    MODULES,
    Driver,
    assert_api_challenge,
    config_from_shell_block,
    run_asgi,
    run_wsgi,
    runs,
    sign_in,
)
from tests.support.idp import IdP
from tests.support.protected_api import ProtectedAPI
from tests.support.servers import app_env, free_port, start_server
from thunderid_mw import ThunderIDConfig
from thunderid_mw.integrations import Requirement

Load = Callable[[str], ModuleType]


ROOT = Path(__file__).resolve().parents[1]


def test_every_framework_has_a_page() -> None:
    pages = {page.stem for page in (ROOT / "docs" / "frameworks").glob("*.md")}
    helpers = {
        path.stem
        for path in (ROOT / "thunderid_mw" / "integrations").glob("*.py")
        if not path.stem.startswith("_")
    }
    assert helpers - {"starlette"} <= pages  # Starlette is on the FastAPI page
    assert {"any-framework", "authorization"} <= pages


def check_page(app: Driver, idp: IdP, protected: str, forbidden: str) -> None:
    """What every framework page promises for its protected view and its permission."""
    page = app.get(protected, headers=BROWSER)
    assert page.status_code == 302, page.text
    assert page.headers["location"] == "/sign-in?return_to=" + protected.replace("/", "%2F")
    assert_api_challenge(app.get(protected, headers=FETCH), exact_body=False)
    sign_in(app, idp, protected)
    claims = app.get(protected, headers=FETCH)
    assert claims.status_code == 200, claims.text
    assert claims.json()["sub"] == "user-alice" and claims.json()["name"] == "Alice Liddell"
    denied = app.get(forbidden, headers=FETCH)
    assert denied.status_code == 403, denied.text


@runs("flask_app.py")
def test_flask_page(load: Load, idp: IdP) -> None:
    run_wsgi(load("flask_app.py").app, check_page, idp, "/profile", "/reports")


@runs("falcon_app.py")
def test_falcon_page(load: Load, idp: IdP) -> None:
    run_wsgi(load("falcon_app.py").application, check_page, idp, "/profile", "/admin")


@runs("bottle_app.py")
def test_bottle_page(load: Load, idp: IdP) -> None:
    run_wsgi(load("bottle_app.py").application, check_page, idp, "/profile", "/admin")


@runs("quart_app.py")
async def test_quart_page(load: Load, idp: IdP) -> None:
    await run_asgi(load("quart_app.py").app, check_page, idp, "/profile", "/admin")


@runs("fastapi_app.py")
async def test_fastapi_page(load: Load, idp: IdP) -> None:
    await run_asgi(load("fastapi_app.py").app, check_page, idp, "/profile", "/edit")


@runs("litestar_app.py")
async def test_litestar_page(load: Load, idp: IdP) -> None:
    await run_asgi(load("litestar_app.py").app, check_page, idp, "/profile", "/admin")


def check_pyramid(app: Driver, idp: IdP) -> None:
    """Both views need a permission the test user lacks (a scope, a role): signed out they
    send to sign in, signed in they answer 403 — the security policy knows the user."""
    page = app.get("/documents", headers=BROWSER)
    assert page.status_code == 302
    # WebOb makes every Location absolute, from the request's own origin.
    assert page.headers["location"] == app.origin + "/sign-in?return_to=%2Fdocuments"
    assert_api_challenge(app.get("/admin", headers=FETCH), exact_body=False)
    sign_in(app, idp, "/")
    for path in ("/documents", "/admin"):
        assert app.get(path, headers=FETCH).status_code == 403, path


@runs("pyramid_app.py")
def test_pyramid_page(load: Load, idp: IdP) -> None:
    run_wsgi(load("pyramid_app.py").application, check_pyramid, idp)


def check_any_framework(app: Driver, idp: IdP) -> None:
    assert app.get("/").text == "Hello, stranger"
    page = app.get("/edit", headers=BROWSER)
    assert page.status_code == 302
    assert page.headers["location"] == "/sign-in?return_to=%2Fedit"
    assert_api_challenge(app.get("/edit", headers=FETCH))
    sign_in(app, idp, "/")
    assert app.get("/").text == "Hello, Alice Liddell"
    refused = app.get("/edit", headers=FETCH)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


@runs("any_framework_app.py")
def test_any_framework_page(load: Load, idp: IdP) -> None:
    run_wsgi(load("any_framework_app.py").application, check_any_framework, idp)


# -- authorization.md ---------------------------------------------------------------------


@runs("requirement.py")
def test_authorization_requirement(load: Load) -> None:
    load("requirement.py")  # builds without error; what it means is tested below
    editor = Requirement.of(
        scopes=["read:documents"],
        claims={"email_verified": "true", "tenant": ["acme", "globex"]},
        groups=["staff", "contractors"],
        roles="editor",
    )
    assert editor == Requirement.of(
        scopes="read:documents",
        claims={"email_verified": ["true"], "tenant": ["acme", "globex"]},
        groups=["staff", "contractors"],
        roles=["editor"],
    )


@runs("path_requirements.py")
def test_authorization_path_requirements(load: Load, doc_env: dict[str, str]) -> None:
    config: ThunderIDConfig = load("path_requirements.py").config
    assert config.protected_paths == ("/account",)
    assert config.path_requirements["/admin"] == Requirement.of(roles="admin")
    assert config.path_requirements["/api/documents"] == Requirement.of(scopes="read:documents")
    # The page's shell block says the same from the environment.
    from_env = config_from_shell_block(ROOT / "docs" / "frameworks" / "authorization.md", doc_env)
    assert from_env.protected_paths == config.protected_paths
    assert from_env.path_requirements == config.path_requirements


@runs("scopes.py")
def test_authorization_scopes(load: Load) -> None:
    config: ThunderIDConfig = load("scopes.py").config
    assert config.scopes == ("openid", "profile", "read:documents", "write:documents")


# -- on their own servers -----------------------------------------------------------------


@runs("sanic_app.py")
def test_sanic_page_on_sanics_own_server(idp: IdP, tmp_path: Path) -> None:
    (tmp_path / "sanic_app.py").write_text(MODULES["sanic_app.py"][1])
    port = free_port()
    env = app_env(idp, port, "memory://", PYTHONPATH=str(tmp_path))
    server = start_server("sanic", "sanic_app:app", env, port=port, log_dir=tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            check_page(Driver(http.get, http.post, server.url), idp, "/profile", "/admin")
    finally:
        server.stop()


@runs("settings.py")
@runs("urls.py")
@runs("wsgi.py")
@runs("asgi.py")
@runs("views.py")
@pytest.mark.parametrize("server_kind", ["gunicorn", "uvicorn"])
def test_django_page_under_gunicorn_and_uvicorn(
    idp: IdP, protected_api: ProtectedAPI, tmp_path: Path, server_kind: str
) -> None:
    # The page's project, served wrapped (wsgi.py, asgi.py): ThunderIDMiddleware, in its
    # settings too, leaves such requests to the wrapper.
    for name in ("settings.py", "urls.py", "wsgi.py", "asgi.py", "views.py"):
        (tmp_path / name).write_text(MODULES[name][1])
    port = free_port()
    env = app_env(
        idp,
        port,
        "memory://",
        PYTHONPATH=str(tmp_path),
        DJANGO_SETTINGS_MODULE="settings",
        DJANGO_SECRET_KEY="django-docs-test-only-0123456789abcdef",
        PROFILE_API_URL=protected_api.url,
    )
    module = "wsgi:application" if server_kind == "gunicorn" else "asgi:application"
    server = start_server(
        server_kind, module, env, port=port, log_dir=tmp_path, ready_path="/profile"
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            check_page(Driver(http.get, http.post, server.url), idp, "/profile", "/documents")
            for path in ("/me", "/me-sync"):  # async and sync views call the API
                answer = http.get(path, headers=FETCH)
                assert answer.status_code == 200, (path, answer.text)
                assert answer.json()["sub"] == "user-alice"
    finally:
        server.stop()


# -- each page's "Test it": a user's test file, with the test kit --------------------------

PAGE_TESTS = {
    "test_flask_app.py": "flask.md",
    "test_fastapi_app.py": "fastapi.md",
    "test_quart_app.py": "quart.md",
    "test_litestar_app.py": "litestar.md",
    "test_bottle_app.py": "bottle.md",
    "test_falcon_app.py": "falcon.md",
    "test_pyramid_app.py": "pyramid.md",
    "test_sanic_app.py": "sanic.md",
    "test_views.py": "django.md",
}


def test_every_framework_page_tests_its_app_with_the_kit_in_three_lines() -> None:
    pages = {path.name for path in (ROOT / "docs" / "frameworks").glob("*.md")}
    assert pages - {"any-framework.md", "authorization.md"} == set(PAGE_TESTS.values())
    for name, page in PAGE_TESTS.items():
        doc, source = MODULES[name]
        assert doc.name == page, name
        body = re.findall(r"^def test_\w+\(.*\n((?:    .*\n)+)", source + "\n", re.M)
        body += re.findall(r"^async def test_\w+\(.*\n((?:    .*\n)+)", source + "\n", re.M)
        assert len(body) == 1 and body[0].count("\n") == 3, (name, body)
        assert "sign_in(" in body[0], name


@runs("test_flask_app.py")
@runs("test_fastapi_app.py")
@runs("test_quart_app.py")
@runs("test_litestar_app.py")
@runs("test_bottle_app.py")
@runs("test_falcon_app.py")
@runs("test_pyramid_app.py")
@runs("test_sanic_app.py")
@runs("test_views.py")
def test_framework_pages_test_files_pass_under_pytest(tmp_path: Path) -> None:
    """Every framework page's app and its "Test it" file, run as a user runs them: a plain
    pytest (with pytest-django for the Django project), the ``thunderid`` fixture from the
    installed plugin, no IdP."""
    for name, (doc, source) in MODULES.items():
        if doc.parent.name == "frameworks":
            (tmp_path / name).write_text(source)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("THUNDERID_")},
        "DJANGO_SETTINGS_MODULE": "settings",
        "DJANGO_SECRET_KEY": "django-docs-test-only-0123456789abcdef",
        "PROFILE_API_URL": "http://127.0.0.1:9",  # imported by views.py, not called
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PAGE_TESTS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(PAGE_TESTS)} passed" in run.stdout, run.stdout[-2000:]
