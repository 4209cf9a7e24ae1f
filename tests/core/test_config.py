"""ThunderIDConfig: required fields, validation errors, derived values, from_env."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from thunderid_mw.core.config import SessionCookieConfig, ThunderIDConfig
from thunderid_mw.core.errors import ConfigError

from .driver import SECRET, make_config

BASE_ENV = {
    "THUNDERID_CLIENT_ID": "cid",
    "THUNDERID_AFTER_SIGN_IN_URL": "https://app.test/auth/cb",
    "THUNDERID_SECRET": SECRET,
}


def test_valid_config_has_node_sdk_defaults() -> None:
    config = ThunderIDConfig(client_id="c", after_sign_in_url="https://a.test/cb", secret=SECRET)
    assert config.base_url == "https://localhost:8090"
    assert config.scopes == ("openid", "profile")
    cookie = config.session_cookie
    assert (cookie.name, cookie.expiry_time, cookie.http_only, cookie.same_site) == (
        "__thunderid__session",
        86400,
        True,
        "lax",
    )


@pytest.mark.parametrize("missing", ["client_id", "after_sign_in_url", "secret"])
def test_required_fields(missing: str) -> None:
    values = {"client_id": "c", "after_sign_in_url": "https://a.test/cb", "secret": SECRET}
    del values[missing]
    with pytest.raises(TypeError, match=missing):
        ThunderIDConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_id": ""}, "client_id is required"),
        ({"secret": "x" * 31}, "secret must be at least 32"),
        ({"secret": ""}, "secret must be at least 32"),
        ({"after_sign_in_url": "/callback"}, "after_sign_in_url must be an absolute"),
        ({"after_sign_in_url": "ftp://app.test/cb"}, "after_sign_in_url must be an absolute"),
        ({"after_sign_out_url": "bye"}, "after_sign_out_url must be an absolute"),
        ({"base_url": "localhost:8090"}, "base_url must be an absolute"),
        ({"scopes": ("profile", "email")}, "scopes must include 'openid'"),
        ({"sign_in_path": "/sign-out"}, "must differ"),
        ({"sign_out_path": "/callback"}, "must differ"),
        ({"sign_in_path": "sign-in"}, "sign_in_path must start with '/'"),
        ({"protected_paths": ("admin",)}, "protected_paths entries must start"),
        (
            {"client_secret": None, "token_endpoint_auth_method": "client_secret_basic"},
            "client_secret_basic needs client_secret",
        ),
        (
            {"client_secret": None, "token_endpoint_auth_method": "client_secret_post"},
            "client_secret_post needs client_secret",
        ),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
        ({"refresh_leeway": -1.0}, "refresh_leeway"),
        ({"refresh_wait_timeout": 0.0}, "refresh_wait_timeout"),
        ({"max_sign_ins_in_progress": 0}, "max_sign_ins_in_progress"),
        # Numeric ranges: 0 idle timeout was an endless sign-in loop.
        ({"idle_timeout": 0}, "idle_timeout must be a finite number > 0"),
        ({"idle_timeout": -5.0}, "idle_timeout must be a finite number > 0"),
        ({"idle_timeout": float("nan")}, "idle_timeout"),
        ({"absolute_timeout": float("inf")}, "absolute_timeout"),
        ({"http_timeout": 0}, "http_timeout"),
        ({"touch_interval": -1}, "touch_interval must be a finite number >= 0"),
        ({"sign_in_timeout": 0}, "sign_in_timeout"),
        ({"clock_skew": -1}, "clock_skew"),
        ({"websocket_recheck_interval": 0}, "websocket_recheck_interval"),
        ({"ended_session_memory": -1}, "ended_session_memory"),
        ({"refresh_retry_interval": -0.5}, "refresh_retry_interval"),
        ({"end_session_hint": "id_token"}, "end_session_hint must be one of both"),
        ({"idle_timeout": True}, "idle_timeout must be a number"),
        ({"idle_timeout": "600"}, "idle_timeout must be a number"),
        # The callback route would be the home page.
        ({"after_sign_in_url": "https://app.test"}, "needs a path of its own"),
        ({"after_sign_in_url": "https://app.test/"}, "needs a path of its own"),
        ({"after_sign_in_url": "https://app.test/?next=1"}, "needs a path of its own"),
        # Clearly weak secrets.
        ({"secret": "x" * 40}, "secret is weak: it uses fewer than 8 different"),
        ({"secret": "abcabcabcabcabcabcabcabcabcabcabc"}, "secret is weak"),
        ({"secret": "please-CHANGE-ME-before-production-2024"}, "placeholder 'changeme'"),
        ({"secret": "replace_me_with_a_long_random_value_0123"}, "placeholder 'replaceme'"),
        ({"secret": "<at least 32 random characters, shared>"}, "template placeholder"),
    ],
)
def test_validation_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"same_site": "bogus"}, "same_site"),
        ({"same_site": "Lax"}, "same_site"),
        ({"expiry_time": 0}, "expiry_time"),
        ({"name": "bad name"}, "not a valid cookie name"),
        ({"name": "a=b"}, "not a valid cookie name"),
        ({"name": ""}, "not a valid cookie name"),
    ],
)
def test_cookie_validation_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SessionCookieConfig(**changes)


@pytest.mark.parametrize("secret", ["x" * 40, "x" * 31, "changeme-changeme-changeme-changeme"])
def test_secret_errors_say_how_to_generate_one(secret: str) -> None:
    with pytest.raises(ConfigError, match="thunderid-mw secret"):
        make_config(secret=secret)


def test_a_changed_copy_is_validated_again() -> None:
    with pytest.raises(ConfigError, match="secret"):
        dataclasses.replace(make_config(), secret="short")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://app.test/callback", "/callback"),
        ("https://app.test/auth/done?x=1", "/auth/done"),
    ],
)
def test_callback_path_is_path_of_after_sign_in_url(url: str, path: str) -> None:
    assert make_config(after_sign_in_url=url).callback_path == path


@pytest.mark.parametrize(
    ("url", "secure_setting", "expected"),
    [
        ("https://app.test/cb", None, True),
        ("http://localhost:3000/cb", None, False),
        ("http://localhost:3000/cb", True, True),
        ("https://app.test/cb", False, False),
    ],
)
def test_cookie_secure(url: str, secure_setting: bool | None, expected: bool) -> None:
    config = make_config(
        after_sign_in_url=url, session_cookie=SessionCookieConfig(secure=secure_setting)
    )
    assert config.cookie_secure is expected


@pytest.mark.parametrize(
    ("client_secret", "method", "expected"),
    [
        ("sek", None, "client_secret_basic"),
        (None, None, "none"),
        ("sek", "client_secret_post", "client_secret_post"),
        ("sek", "none", "none"),
    ],
)
def test_auth_method_default(client_secret: str | None, method: str | None, expected: str) -> None:
    config = make_config(client_secret=client_secret, token_endpoint_auth_method=method)
    assert config.auth_method == expected


def test_other_derived_values() -> None:
    config = make_config(
        after_sign_in_url="https://app.test:8443/cb", after_sign_out_url=None, http_timeout=3.0
    )
    assert config.app_origin == "https://app.test:8443"
    assert config.post_sign_out_url == "https://app.test:8443/"
    assert config.effective_lock_lease == 8.0
    assert config.session_max_age == 86400.0
    assert config.effective_discovery_url == "https://idp.test/.well-known/openid-configuration"
    assert make_config(absolute_timeout=100.0).session_max_age == 100.0


# from_env ---------------------------------------------------------------------------------


def test_from_env_parses_every_kind_of_value() -> None:
    environ = {
        **BASE_ENV,
        "THUNDERID_BASE_URL": "https://idp.test",
        "THUNDERID_CLIENT_SECRET": "sek",
        "THUNDERID_SCOPES": "openid  profile,email",
        "THUNDERID_PROTECTED_PATHS": "/admin, /me ,",
        "THUNDERID_VERIFY_TLS": "false",
        "THUNDERID_REFRESH_LEEWAY": "30",
        "THUNDERID_HTTP_TIMEOUT": "2.5",
        "THUNDERID_COOKIE_NAME": "sid",
        "THUNDERID_COOKIE_SECURE": "yes",
        "THUNDERID_SIGN_IN_PATH": "/login",
        "THUNDERID_ABSOLUTE_TIMEOUT": "7200",
        "THUNDERID_AFTER_SIGN_OUT_URL": "",  # empty means unset
        "OTHER_CLIENT_ID": "ignored",
    }
    config = ThunderIDConfig.from_env(environ)
    assert config.client_id == "cid"
    assert config.client_secret == "sek"
    assert config.scopes == ("openid", "profile", "email")
    assert config.protected_paths == ("/admin", "/me")
    assert config.verify_tls is False
    assert config.refresh_leeway == 30.0
    assert config.http_timeout == 2.5
    assert config.session_cookie.name == "sid"
    assert config.session_cookie.secure is True
    assert config.sign_in_path == "/login"
    assert config.absolute_timeout == 7200.0
    assert config.after_sign_out_url is None
    assert config.callback_path == "/auth/cb"


def test_from_env_keyword_overrides_win() -> None:
    config = ThunderIDConfig.from_env(BASE_ENV, client_id="override")
    assert config.client_id == "override"


@pytest.mark.parametrize(
    "name", ["REFRESH_LEEWAY", "HTTP_TIMEOUT", "IDLE_TIMEOUT", "LOCK_LEASE", "TOUCH_INTERVAL"]
)
def test_from_env_bad_number_names_the_variable(name: str) -> None:
    with pytest.raises(ConfigError, match=f"THUNDERID_{name} must be a number.*'soon'"):
        ThunderIDConfig.from_env({**BASE_ENV, f"THUNDERID_{name}": "soon"})


@pytest.mark.parametrize("name", ["VERIFY_TLS", "COOKIE_SECURE"])
@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_from_env_bad_boolean_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"THUNDERID_{name} must be a boolean"):
        ThunderIDConfig.from_env({**BASE_ENV, f"THUNDERID_{name}": value})


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("No", False)]
)
def test_from_env_booleans(value: str, expected: bool) -> None:
    config = ThunderIDConfig.from_env({**BASE_ENV, "THUNDERID_VERIFY_TLS": value})
    assert config.verify_tls is expected


def test_from_env_missing_variables_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        ThunderIDConfig.from_env({"THUNDERID_CLIENT_ID": "cid"})
    message = str(info.value)
    assert "THUNDERID_AFTER_SIGN_IN_URL" in message
    assert "THUNDERID_SECRET" in message
    assert "THUNDERID_CLIENT_ID" not in message


def test_from_env_custom_prefix() -> None:
    environ = {k.replace("THUNDERID_", "APP_"): v for k, v in BASE_ENV.items()}
    assert ThunderIDConfig.from_env(environ, prefix="APP_").client_id == "cid"
    with pytest.raises(ConfigError, match="APP_CLIENT_ID"):
        ThunderIDConfig.from_env({}, prefix="APP_")


def test_lock_lease_must_outlast_the_http_timeout() -> None:
    with pytest.raises(ConfigError, match="lock_lease"):
        make_config(lock_lease=5.0, http_timeout=5.0)
    assert make_config(lock_lease=6.0, http_timeout=5.0).effective_lock_lease == 6.0
