"""``ThunderIDConfig.from_env``: every setting is settable, typos are reported, bad text
names the variable (core/config_env.py)."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

from thunderid_mw import SessionCookieConfig, ThunderIDConfig
from thunderid_mw.core.authorization import Requirement
from thunderid_mw.core.config_env import CODE_ONLY, ENV_SETTINGS, ConfigWarning
from thunderid_mw.core.errors import ConfigError

from .driver import SECRET

BASE = {
    "THUNDERID_CLIENT_ID": "app",
    "THUNDERID_AFTER_SIGN_IN_URL": "https://app.test/callback",
    "THUNDERID_SECRET": SECRET,
}


def test_every_setting_is_settable_from_the_environment() -> None:
    targets = {setting.target for setting in ENV_SETTINGS.values()}
    for f in dataclasses.fields(ThunderIDConfig):
        if f.name != "session_cookie" and f.name not in CODE_ONLY:
            assert f.name in targets, f"no THUNDERID_ variable sets {f.name}"
    for f in dataclasses.fields(SessionCookieConfig):
        assert "session_cookie." + f.name in targets, f"no variable sets session_cookie.{f.name}"


def test_the_new_variables_reach_the_config() -> None:
    config = ThunderIDConfig.from_env(
        {
            **BASE,
            "THUNDERID_CLIENT_SECRET": "s3cret",
            "THUNDERID_TOKEN_ENDPOINT_AUTH_METHOD": "client_secret_post",
            "THUNDERID_EXTRA_AUTHORIZE_PARAMS": "prompt=login&max_age=0",
            "THUNDERID_BACKCHANNEL_LOGOUT_PATH": "off",
            "THUNDERID_END_SESSION_HINT": "client_id",
            "THUNDERID_CLOCK_SKEW": "30",
            "THUNDERID_ENCRYPT_TOKENS": "0",
            "THUNDERID_ENDED_SESSION_MEMORY": "120",
            "THUNDERID_MAX_SIGN_INS_IN_PROGRESS": "3",
            "THUNDERID_COOKIE_EXPIRY_TIME": "3600",
            "THUNDERID_COOKIE_SAME_SITE": "strict",
            "THUNDERID_COOKIE_HTTP_ONLY": "1",
            "THUNDERID_COOKIE_PATH": "/app",
            "THUNDERID_COOKIE_DOMAIN": "app.test",
            "THUNDERID_COOKIE_HOST_PREFIX": "0",
        }
    )
    assert config.token_endpoint_auth_method == "client_secret_post"
    assert dict(config.extra_authorize_params) == {"prompt": "login", "max_age": "0"}
    assert config.backchannel_logout_path is None
    assert config.end_session_hint == "client_id"
    assert (config.clock_skew, config.encrypt_tokens) == (30, False)
    assert (config.ended_session_memory, config.max_sign_ins_in_progress) == (120.0, 3)
    cookie = config.session_cookie
    assert (cookie.expiry_time, cookie.same_site, cookie.path, cookie.domain) == (
        3600,
        "strict",
        "/app",
        "app.test",
    )


def test_a_typo_is_reported_with_the_closest_name() -> None:
    with pytest.warns(ConfigWarning, match="THUNDERID_CLIENTSECRET .*THUNDERID_CLIENT_SECRET"):
        config = ThunderIDConfig.from_env({**BASE, "THUNDERID_CLIENTSECRET": "s3cret"})
    assert config.client_secret is None  # ignored, and now the operator knows


def test_an_unknown_variable_without_a_near_name_is_still_reported() -> None:
    with pytest.warns(ConfigWarning, match="THUNDERID_FROBNICATE is not a thunderid_mw setting"):
        ThunderIDConfig.from_env({**BASE, "THUNDERID_FROBNICATE": "1"})


def test_known_variables_and_other_prefixes_give_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ThunderIDConfig.from_env({**BASE, "OTHER_CLIENTSECRET": "x", "THUNDERID_SCOPES": ""})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("THUNDERID_TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_jwt", "must be one of"),
        ("THUNDERID_END_SESSION_HINT", "none", "must be one of both, id_token_hint"),
        ("THUNDERID_CLOCK_SKEW", "1.5", "THUNDERID_CLOCK_SKEW must be a whole number"),
        ("THUNDERID_IDLE_TIMEOUT", "eight hours", "THUNDERID_IDLE_TIMEOUT must be a number"),
        ("THUNDERID_IDLE_TIMEOUT", "0", "idle_timeout must be a finite number > 0"),
        ("THUNDERID_IDLE_TIMEOUT", "-60", "idle_timeout must be a finite number > 0"),
        ("THUNDERID_ENCRYPT_TOKENS", "maybe", "THUNDERID_ENCRYPT_TOKENS must be a boolean"),
        ("THUNDERID_COOKIE_SAME_SITE", "Lax", "must be one of lax, strict, none"),
        ("THUNDERID_EXTRA_AUTHORIZE_PARAMS", "prompt", "must look like prompt=login"),
        ("THUNDERID_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "secret is weak"),
        ("THUNDERID_AFTER_SIGN_IN_URL", "https://app.test/", "needs a path of its own"),
    ],
)
def test_bad_values_name_the_variable_or_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ThunderIDConfig.from_env({**BASE, name: value})


def test_path_requirements_from_the_environment() -> None:
    value = (
        "/admin roles=admin; /reports scopes=read:reports,export "
        "claim:tenant=acme,globex claim:email_verified=; ;/staff groups=staff"
    )
    config = ThunderIDConfig.from_env({**BASE, "THUNDERID_PATH_REQUIREMENTS": value})
    assert config.path_requirements == {
        "/admin": Requirement.of(roles="admin"),
        "/reports": Requirement.of(
            scopes=["read:reports", "export"],
            claims={"tenant": ["acme", "globex"], "email_verified": []},
        ),
        "/staff": Requirement.of(groups="staff"),
    }


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("admin roles=admin", "must be a path"),
        ("/admin", "must be a path and its requirements"),
        ("/admin role=admin", "'role=admin'"),
        ("/admin roles=", "'roles='"),
        ("/admin claim:=x", "'claim:=x'"),
        ("/admin roles admin", "'roles'"),
        ("/admin max_age=soon", "'max_age=soon'"),
        ("/admin max_age=-5", "'max_age=-5'"),
        ("/admin acr=", "'acr='"),
        ('/admin acr=urn:"x', "acr value"),
    ],
)
def test_bad_path_requirements_say_what_is_wrong(value: str, words: str) -> None:
    with pytest.raises(ConfigError, match="THUNDERID_PATH_REQUIREMENTS") as raised:
        ThunderIDConfig.from_env({**BASE, "THUNDERID_PATH_REQUIREMENTS": value})
    assert words in str(raised.value) and "roles=admin" in str(raised.value)  # an example


def test_step_up_requirements_and_the_acr_allow_list_from_the_environment() -> None:
    config = ThunderIDConfig.from_env(
        {
            **BASE,
            "THUNDERID_PATH_REQUIREMENTS": "/billing acr=urn:mfa,urn:hwk max_age=300 roles=payer",
            "THUNDERID_SIGN_IN_ACR_VALUES": "urn:mfa urn:hwk urn:pwd",
        }
    )
    assert config.path_requirements == {
        "/billing": Requirement.of(acr=["urn:mfa", "urn:hwk"], max_age=300, roles="payer")
    }
    assert config.sign_in_acr_values == ("urn:mfa", "urn:hwk", "urn:pwd")


def test_a_path_acr_outside_the_allow_list_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="sign_in_acr_values does not allow"):
        ThunderIDConfig.from_env(
            {
                **BASE,
                "THUNDERID_PATH_REQUIREMENTS": "/billing acr=urn:hwk",
                "THUNDERID_SIGN_IN_ACR_VALUES": "urn:mfa",
            }
        )
