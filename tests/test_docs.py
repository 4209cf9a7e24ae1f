"""The docs' code runs: every ```python block tagged ``title="NAME.py"`` in README.md and
docs/**/*.md is part of a runnable module (tests/support/docs.py). Each module of README.md
and the guides has a test below (the framework pages' are in test_framework_docs.py) that
imports it with THUNDERID_* pointing at the test IdP and checks what the docs say it does,
against the real IdP and the real protected API.

Also: configuration.md documents every config field and environment variable.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.docs import (
    APP,
    BROWSER,
    DOCS,
    FETCH,
    MODULES,
    OLD_TAG,
    ROOT,
    TESTED,
    TOKEN_EXCHANGE,
    Driver,
    assert_api_challenge,
    config_from_shell_block,
    csrf_token,
    login,
    run_asgi,
    run_wsgi,
    runs,
    sign_in,
)
from tests.support.idp import IdP
from tests.support.protected_api import ProtectedAPI
from thunderid_mw import SessionCookieConfig, ThunderIDConfig, TLSVerificationError
from thunderid_mw.cli.secret import new_secret
from thunderid_mw.context import CONTEXT_KEY, AuthContext
from thunderid_mw.core.config_env import CODE_ONLY, ENV_SETTINGS
from thunderid_mw.stores import RedisStore, SQLiteStore


def test_no_block_uses_the_old_file_tag() -> None:
    tagged = [str(doc.relative_to(ROOT)) for doc in DOCS if OLD_TAG.search(doc.read_text())]
    assert not tagged, f'tag runnable blocks ```python title="NAME.py"```, not file=: {tagged}'


# The test modules that run docs modules (each marks its tests with @runs).
DOC_RUNNERS = ("tests.test_docs", "tests.test_framework_docs")


def test_every_runnable_block_is_run_by_a_test() -> None:
    assert MODULES, "no runnable blocks found"
    for runner in DOC_RUNNERS:  # imported here too, so the check holds when run alone
        importlib.import_module(runner)
    assert set(MODULES) == TESTED, (
        f"blocks without a test: {sorted(set(MODULES) - TESTED)}; "
        f"tests without blocks: {sorted(TESTED - set(MODULES))}"
    )


# -- README.md ----------------------------------------------------------------------------


def check_quick_start(app: Driver, idp: IdP, exact_body: bool, signed_in_home: str) -> None:
    home = app.get("/", headers=BROWSER)
    assert '"/sign-in' in home.text and "Hello" not in home.text
    page = app.get("/profile", headers=BROWSER)
    assert page.status_code == 302
    assert page.headers["location"] == "/sign-in?return_to=%2Fprofile"
    assert_api_challenge(app.get("/profile", headers=FETCH), exact_body)
    sign_in(app, idp, "/profile")
    claims = app.get("/profile", headers=FETCH).json()
    assert claims["sub"] == "user-alice" and claims["name"] == "Alice Liddell"
    home = app.get("/", headers=BROWSER)
    assert signed_in_home in home.text, home.text


@runs("readme_flask.py")
def test_readme_flask(load: Callable[[str], ModuleType], idp: IdP) -> None:
    run_wsgi(load("readme_flask.py").app, check_quick_start, idp, True, "Hello, Alice Liddell")


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"sub": "u1", "name": "<script>x</script>"}, "Hello, &lt;script&gt;x&lt;/script&gt;"),
        ({"sub": "user-without-name"}, "Hello, user-without-name"),
    ],
)
def test_readme_flask_home_escapes_the_name_and_survives_its_absence(
    load: Callable[[str], ModuleType], claims: dict[str, str], expected: str
) -> None:
    module = load("readme_flask.py")
    signed_in = AuthContext(
        cast(Any, None), session_id="s", user=claims, access_token="t", scopes=()
    )
    with module.app.test_request_context("/", environ_overrides={CONTEXT_KEY: signed_in}):
        assert module.home() == expected


@runs("readme_fastapi.py")
async def test_readme_fastapi(load: Callable[[str], ModuleType], idp: IdP) -> None:
    # No exception handler registered: FastAPI's own body, the middleware's status/headers.
    await run_asgi(load("readme_fastapi.py").app, check_quick_start, idp, False, '"signed_in":true')


# -- handling-authentication.md -------------------------------------------------------------


def check_sign_in_and_out(app: Driver, idp: IdP) -> None:
    home = app.get("/", headers=BROWSER)
    assert 'href="/sign-in?return_to=/"' in home.text, home.text
    sign_in(app, idp, "/")
    home = app.get("/", headers=BROWSER)
    assert "Hello, Alice Liddell!" in home.text
    token = csrf_token(home.text)

    confirm = app.get("/sign-out", headers=BROWSER)  # GET only asks
    assert confirm.status_code == 200 and "Hello" in app.get("/").text
    forged = app.post("/sign-out", data={"csrf_token": "x"}, headers=BROWSER)
    assert forged.status_code == 403
    cross_site = app.post(
        "/sign-out", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403 and "Hello" in app.get("/").text

    before = idp.counts()["revocations"]
    out = app.post("/sign-out", data={"csrf_token": token}, headers=BROWSER)
    assert out.status_code == 303
    end_session = urlsplit(out.headers["location"])
    assert out.headers["location"].startswith(idp.metadata["end_session_endpoint"])
    query = parse_qs(end_session.query)
    assert query["post_logout_redirect_uri"] == [APP + "/"] and "id_token_hint" in query
    assert idp.counts()["revocations"] > before
    assert 'href="/sign-in?return_to=/"' in app.get("/", headers=BROWSER).text


@runs("auth_flask.py")
def test_handling_authentication_flask(load: Callable[[str], ModuleType], idp: IdP) -> None:
    run_wsgi(load("auth_flask.py").app, check_sign_in_and_out, idp)


@runs("auth_fastapi.py")
async def test_handling_authentication_fastapi(load: Callable[[str], ModuleType], idp: IdP) -> None:
    await run_asgi(load("auth_fastapi.py").app, check_sign_in_and_out, idp)


@runs("auth_starlette.py")
async def test_handling_authentication_starlette(
    load: Callable[[str], ModuleType], idp: IdP
) -> None:
    await run_asgi(load("auth_starlette.py").app, check_sign_in_and_out, idp)


def check_client_flow(app: Driver, idp: IdP) -> None:
    assert 'href="/login"' in app.get("/").text
    start = app.get("/login")
    assert start.status_code == 302
    assert start.headers["location"].startswith(idp.metadata["authorization_endpoint"])
    callback = login(idp, start.headers["location"])
    assert callback.startswith("/callback?")
    done = app.get(callback)
    assert done.status_code == 302 and done.headers["location"] == "/"
    assert app.get("/").text == "Hello, Alice Liddell!"
    before = idp.counts()["revocations"]
    out = app.post("/logout")
    assert out.status_code == 302
    assert out.headers["location"].startswith(idp.metadata["end_session_endpoint"])
    assert idp.counts()["revocations"] > before
    assert 'href="/login"' in app.get("/").text


@runs("auth_client_flask.py")
def test_handling_authentication_with_the_client(
    load: Callable[[str], ModuleType], idp: IdP
) -> None:
    run_wsgi(load("auth_client_flask.py").app, check_client_flow, idp)


# -- protecting-routes.md --------------------------------------------------------------------


def check_protection(app: Driver, idp: IdP, api_path: str | None) -> None:
    assert app.get("/", headers=BROWSER).status_code == 200
    page = app.get("/profile", params={"tab": "keys"}, headers=BROWSER)
    assert page.status_code == 302
    assert page.headers["location"] == "/sign-in?return_to=%2Fprofile%3Ftab%3Dkeys"
    assert_api_challenge(app.get("/profile", headers=FETCH))
    assert_api_challenge(app.get("/profile", headers={"X-Requested-With": "XMLHttpRequest"}))
    if api_path:
        assert_api_challenge(app.get(api_path, headers={"Accept": "application/json"}))

    sign_in(app, idp, "/profile?tab=keys")  # and back to where the user was going
    assert app.get("/profile", headers=FETCH).json()["name"] == "Alice Liddell"
    if api_path:
        orders = app.get(api_path, headers=FETCH)
        assert orders.status_code == 200 and orders.json()["orders"] == []


@runs("protect_paths_flask.py")
def test_protecting_routes_by_path(load: Callable[[str], ModuleType], idp: IdP) -> None:
    run_wsgi(load("protect_paths_flask.py").app, check_protection, idp, "/api/orders")


@runs("protect_flask.py")
def test_protecting_routes_flask(load: Callable[[str], ModuleType], idp: IdP) -> None:
    run_wsgi(load("protect_flask.py").app, check_protection, idp, "/api/orders")


@runs("protect_fastapi.py")
async def test_protecting_routes_fastapi(load: Callable[[str], ModuleType], idp: IdP) -> None:
    await run_asgi(load("protect_fastapi.py").app, check_protection, idp, "/api/orders")


@runs("protect_starlette.py")
async def test_protecting_routes_starlette(load: Callable[[str], ModuleType], idp: IdP) -> None:
    await run_asgi(load("protect_starlette.py").app, check_protection, idp, None)


def check_own_rules(app: Driver, idp: IdP) -> None:
    assert app.get("/").text == "Signed in: False"
    sign_in(app, idp, "/")
    assert app.get("/").text == "Signed in: True"
    assert app.get("/admin", headers=FETCH).status_code == 403  # alice is in no group
    time.sleep(IDLE_TIMEOUT + 1)  # idle past the timeout: the session ends as expired
    assert app.get("/").text == "Your session expired. Please sign in again."


IDLE_TIMEOUT = 1


@runs("rules_flask.py")
def test_protecting_routes_own_rules_and_ended_reason(
    load: Callable[[str], ModuleType], idp: IdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THUNDERID_IDLE_TIMEOUT", str(IDLE_TIMEOUT))
    run_wsgi(load("rules_flask.py").app, check_own_rules, idp)


# -- accessing-protected-apis.md ------------------------------------------------------------


def check_protected_api_calls(app: Driver, idp: IdP, api: ProtectedAPI) -> None:
    assert app.get("/api/profile", headers=FETCH).status_code == 401
    sign_in(app, idp)

    def get(path: str) -> httpx.Response:
        return app.get(path, headers=FETCH)

    profile = get("/profile")
    assert profile.status_code == 200, profile.text
    assert profile.json()["sub"] == "user-alice"
    assert profile.json()["name"] == "Alice Liddell"
    assert get("/me").json()["sub"] == "user-alice"

    api.reset()
    api.reject_next(2)  # both parallel calls get a 401: one refresh, then both retry
    dashboard = get("/dashboard")
    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["profile"]["sub"] == "user-alice"
    assert len(dashboard.json()["organizations"]) == 2
    assert api.counts()["rejected"] == 2
    assert api.counts()["calls"] == {"/users/me": 2, "/organizations": 2}
    assert idp.refresh_grants() == 1
    assert idp.counts()["refresh_reuse"] == 0

    assert get("/api/profile").json()["sub"] == "user-alice"  # outside a protected route

    narrow = get("/narrow-token").json()
    assert narrow["scope"] == "openid"
    assert narrow["api_sees"]["sub"] == "user-alice" and "name" not in narrow["api_sees"]
    assert idp.token_counts(TOKEN_EXCHANGE)["ok"] == 1

    unknown = app.post("/switch-account", json={"username": "nobody"}, headers=FETCH)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    switched = app.post("/switch-account", json={"username": "bob"}, headers=FETCH)
    assert switched.status_code == 200, switched.text
    assert switched.json()["user"]["sub"] == "user-bob"
    assert get("/profile").json()["name"] == "Bob Builder"  # the API sees the new token
    assert idp.token_counts("account_switch")["ok"] == 1

    assert idp.counts()["revocations"] == 0
    revoked = app.post("/revoke", headers=FETCH)
    assert revoked.status_code == 303
    assert idp.counts()["revocations"] >= 1
    assert_api_challenge(get("/profile"), exact_body=False)  # FastAPI: {"detail": ...}
    assert get("/api/profile").status_code == 401


@runs("apis_flask.py")
def test_accessing_protected_apis_flask(
    load: Callable[[str], ModuleType], idp_reset: IdP, api_env: ProtectedAPI
) -> None:
    run_wsgi(load("apis_flask.py").app, check_protected_api_calls, idp_reset, api_env)


@runs("apis_fastapi.py")
async def test_accessing_protected_apis_fastapi(
    load: Callable[[str], ModuleType], idp_reset: IdP, api_env: ProtectedAPI
) -> None:
    await run_asgi(load("apis_fastapi.py").app, check_protected_api_calls, idp_reset, api_env)


# -- configuration.md -----------------------------------------------------------------------


@runs("config_explicit.py")
def test_configuration_in_code(
    load: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_SESSION_SECRET", new_secret())
    config = load("config_explicit.py").config
    assert config.callback_path == "/callback"
    assert config.cookie_secure  # https app URL
    assert config.auth_method == "client_secret_basic"
    assert config.session_cookie.name == "__thunderid__session"
    assert config.session_cookie.expiry_time == 8 * 3600
    assert isinstance(config.store, SQLiteStore)


@runs("config_from_env.py")
def test_configuration_from_env_with_an_override(load: Callable[[str], ModuleType]) -> None:
    config = load("config_from_env.py").config
    assert config.protected_paths == ("/account",)
    assert config.client_id  # the rest came from the THUNDERID_* variables


@runs("logging_alerts.py")
def test_deployment_logging_alerts(load: Callable[[str], ModuleType]) -> None:
    logger = logging.getLogger("thunderid_mw")
    before = list(logger.handlers)
    try:
        alerts = load("logging_alerts.py").alerts
        assert alerts in logger.handlers and alerts.level == logging.ERROR
    finally:
        logger.handlers[:] = before


@runs("redis_store_config.py")
def test_stores_redis_in_code(load: Callable[[str], ModuleType]) -> None:
    store = load("redis_store_config.py").config.store
    assert isinstance(store, RedisStore)
    assert (store.prefix, store.socket_timeout) == ("shop:", 0.5)  # nothing connects yet


@runs("config_tls.py")
def test_configuration_tls_ca_bundle(
    load: Callable[[str], ModuleType],
    idp_tls: IdP,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("THUNDERID_BASE_URL", idp_tls.issuer)
    monkeypatch.setenv("THUNDERID_CA_BUNDLE", str(idp_tls.ca_path))
    load("config_tls.py")
    assert capsys.readouterr().out.startswith(f"token endpoint: {idp_tls.issuer}/")

    monkeypatch.delenv("THUNDERID_CA_BUNDLE")  # what the docs say happens without it
    with pytest.raises(TLSVerificationError, match="THUNDERID_CA_BUNDLE"):
        load("config_tls.py")


def test_configuration_reference_matches_the_code() -> None:
    """Every field has a row, and each row names exactly the variables that set it."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    config_part, cookie_part = text.split("## `SessionCookieConfig` fields", 1)
    for cls, part, target_prefix in (
        (ThunderIDConfig, config_part, ""),
        (SessionCookieConfig, cookie_part, "session_cookie."),
    ):
        rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", part, flags=re.MULTILINE))
        for f in dataclasses.fields(cls):
            assert f.name in rows, f"{cls.__name__}.{f.name} is not documented"
            documented = set(re.findall(r"`([A-Z][A-Z_]+)`", rows[f.name]))
            in_code = {
                name
                for name, setting in ENV_SETTINGS.items()
                if setting.target == target_prefix + f.name
            }
            if f.name != "session_cookie" and f.name not in CODE_ONLY:
                assert in_code, f"{f.name} cannot be set from the environment"
            assert documented == in_code, f"{f.name}: docs {documented} != code {in_code}"


@runs("test_kit_example.py")
@runs("test_django_kit_example.py")
@runs("test_hooks_example.py")
@runs("test_pages_example.py")
@pytest.mark.parametrize(
    ("name", "tests"),
    [
        ("test_kit_example.py", 4),
        ("test_django_kit_example.py", 2),
        ("test_hooks_example.py", 2),
        ("test_pages_example.py", 2),
    ],
)
def test_user_test_files_run_under_pytest(tmp_path: Path, name: str, tests: int) -> None:
    """docs/testing-your-app.md and docs/hooks-and-pages.md: each user's test file passes
    under a plain pytest run, with the ``thunderid`` fixture from the installed plugin (no
    conftest, no IdP)."""
    _, source = MODULES[name]
    (tmp_path / name).write_text(source)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"{tests} passed" in run.stdout


# -- step-up.md ---------------------------------------------------------------------------


@runs("step_up_paths.py")
def test_step_up_paths(load: Callable[[str], ModuleType], doc_env: dict[str, str]) -> None:
    from thunderid_mw.integrations import Requirement

    config: ThunderIDConfig = load("step_up_paths.py").config
    assert config.path_requirements == {
        "/billing": Requirement.of(acr="urn:example:mfa"),
        "/account/password": Requirement.of(max_age=300),
    }
    assert config.sign_in_acr_values == ("urn:example:mfa",)
    # The page's shell block says the same from the environment.
    from_env = config_from_shell_block(ROOT / "docs" / "step-up.md", doc_env)
    assert from_env.path_requirements == config.path_requirements
    assert from_env.sign_in_acr_values == config.sign_in_acr_values


@runs("flask_step_up.py")
def test_step_up_flask_helper(load: Callable[[str], ModuleType]) -> None:
    # It builds; the helper's behaviour on real servers is tests/integrations/test_step_up.py.
    pay = load("flask_step_up.py").pay
    assert pay.__wrapped__.__name__ == "pay"
