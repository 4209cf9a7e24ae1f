"""``core/paths.py`` and the protection rule of ``core/routing.py``: a path is protected
in every form a framework could route it; lookalikes are not; URLs we put in headers are
always encodable."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thunderid_mw import ThunderIDConfig
from thunderid_mw.core.paths import app_relative, collapse, header_safe_url, routable_forms
from thunderid_mw.core.redirects import safe_return_to
from thunderid_mw.core.routing import Route, Router


@pytest.fixture
def router() -> Router:
    return Router(_config(protected_paths=("/private", "/api/", "/adm*")))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("//private", "/private"),
        ("/a/./b/../c", "/a/c"),
        ("/../../etc", "/etc"),
        ("/private/", "/private/"),
        ("/private/.", "/private/"),
        ("/", "/"),
        ("", "/"),
    ],
)
def test_collapse(path: str, expected: str) -> None:
    assert collapse(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/private",
        "/private/x",
        "//private",
        "///private",
        "/./private",
        "/x/../private",
        "/%2Fprivate",
        "/%2fprivate",
        "/%252Fprivate",
        "/%2e/private",
        "/\\private",
        "/%5Cprivate",
        "//api//data",
        "//api/../x",  # Werkzeug merges the slashes and gives "../x" to /api/<path:rest>
        "///api/%2E%2E/x",
        "/%2Fapi/../x",
        "/api",
        "/admin",
        "/administrator",
    ],
)
def test_every_routable_spelling_is_protected(router: Router, path: str) -> None:
    assert router.is_protected(path)


@pytest.mark.parametrize("path", ["/privateer", "/public", "/", "/ap", "/apix", "/private-x"])
def test_lookalikes_are_not_protected(router: Router, path: str) -> None:
    assert not router.is_protected(path)


segments = st.lists(
    st.sampled_from(["", ".", "..", "private", "public", "%2F", "%2e", "x"]), max_size=6
)


@given(segments, segments)
def test_any_path_that_routes_to_a_protected_path_is_protected(
    before: list[str], after: list[str]
) -> None:
    """Whatever comes before ``private`` and collapses away, and whatever follows, a path
    whose normalised form is under ``/private`` is protected."""
    router = Router(_config(protected_paths=("/private",)))
    path = "/" + "/".join([*before, "private", *after])
    if collapse(path) == "/private" or collapse(path).startswith("/private/"):
        assert router.is_protected(path)


@given(st.text(max_size=40))
def test_routable_forms_always_include_the_path_itself(path: str) -> None:
    assert path in routable_forms(path)


def test_app_relative() -> None:
    assert app_relative("/app/private", "/app") == "/private"
    assert app_relative("/app", "/app") == "/"
    assert app_relative("/application", "/app") == "/application"
    assert app_relative("/private", "/app") == "/private"
    assert app_relative("/private", "") == "/private"


def test_the_callback_matches_with_or_without_the_mount_prefix() -> None:
    router = Router(_config(after_sign_in_url="http://app.test/app/callback"))
    assert router.route_for("/callback", "/app") is Route.CALLBACK
    assert router.route_for("/app/callback", "") is Route.CALLBACK
    assert router.route_for("/sign-in", "/app") is Route.SIGN_IN
    assert router.route_for("/callback", "") is None


@given(st.text(max_size=60))
def test_header_safe_urls_are_ascii_and_printable(url: str) -> None:
    safe = header_safe_url(url)
    assert safe.isascii() and safe.isprintable() and " " not in safe
    safe.encode("latin-1")


@pytest.mark.parametrize("value", ["/%E2%88%95", "/%80", "/%C0%AF", "/\u2215", "/caf\xe9?q=\u00fc"])
def test_return_to_is_stored_header_safe(value: str) -> None:
    from urllib.parse import unquote

    stored = safe_return_to(unquote(value, errors="replace"))
    assert stored is not None and stored.isascii()
    assert stored == quote(stored, safe="/?#[]@!$&'()*+,;=:-._~%")


def _config(**changes: object) -> ThunderIDConfig:
    base: dict[str, object] = {
        "client_id": "c",
        "after_sign_in_url": "http://app.test/callback",
        "secret": "s" * 16 + "t" * 16 + "0123456789",
        "store": "memory://",
    }
    return ThunderIDConfig(**{**base, **changes})  # type: ignore[arg-type]
