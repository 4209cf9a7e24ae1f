"""``ThunderIDConfig.from_env``: one table maps every ``THUNDERID_*`` variable to the
setting it sets and how its text is read. Every setting code can set is in it (a test
holds the table, the dataclasses and docs/configuration.md together), and a variable with
our prefix that is not in it is reported: a typo such as ``THUNDERID_CLIENTSECRET`` would
otherwise silently turn the app into a public client."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .authorization import Requirement
from .errors import ConfigError

Parser = Callable[[str, str], Any]  # (variable name, text) -> value


class ConfigWarning(UserWarning):
    """A configuration that works but is probably not what was meant."""


def _text(_: str, value: str) -> str:
    return value


def _optional_path(_: str, value: str) -> str | None:
    return None if value.strip().lower() in ("off", "none", "0", "false") else value


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def _boolean(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def _words(_: str, value: str) -> tuple[str, ...]:
    return tuple(value.replace(",", " ").split())


def _comma_list(_: str, value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _choice(*allowed: str) -> Parser:
    def parse(name: str, value: str) -> str:
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    return parse


def _query(name: str, value: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(value, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise ConfigError(f"{name} must look like prompt=login&max_age=0, got {value!r}") from None


_REQUIREMENT_KINDS = ("scopes", "groups", "roles", "acr")
_REQUIREMENTS_EXAMPLE = (
    "/admin roles=admin acr=urn:mfa max_age=300; /reports scopes=read:reports "
    "claim:tenant=acme,globex"
)


def _path_requirements(name: str, value: str) -> dict[str, Requirement]:
    """``/admin roles=admin acr=urn:mfa max_age=300; /api scopes=read,write claim:tenant=acme``:
    per path (entries split by ``;``), ``scopes=``, ``groups=``, ``roles=``, ``acr=`` and
    ``claim:NAME=`` with comma-separated values (a claim with no value: it must be
    present), and ``max_age=`` seconds."""
    requirements: dict[str, Requirement] = {}
    for entry in filter(None, (part.strip() for part in value.split(";"))):
        path, *terms = entry.split()
        if not path.startswith("/") or not terms:
            raise ConfigError(
                f"{name}: {entry!r} must be a path and its requirements, e.g. "
                f"{_REQUIREMENTS_EXAMPLE!r}"
            )
        lists: dict[str, list[str]] = {kind: [] for kind in _REQUIREMENT_KINDS}
        claims: dict[str, list[str]] = {}
        max_age: int | None = None
        for term in terms:
            kind, sep, values = term.partition("=")
            items = [v for v in values.split(",") if v]
            if kind == "max_age" and values.isascii() and values.isdigit():
                max_age = int(values)
            elif sep and kind in lists and items:
                lists[kind] += items
            elif sep and kind.startswith("claim:") and len(kind) > len("claim:"):
                claims.setdefault(kind.removeprefix("claim:"), []).extend(items)
            else:
                raise ConfigError(
                    f"{name}: {term!r} in {entry!r} is not scopes=, groups=, roles=, acr=, "
                    f"claim:NAME= or max_age=SECONDS, e.g. {_REQUIREMENTS_EXAMPLE!r}"
                )
        try:
            requirements[path] = Requirement.of(
                scopes=lists["scopes"],
                groups=lists["groups"],
                roles=lists["roles"],
                claims=claims,
                acr=lists["acr"],
                max_age=max_age,
            )
        except ValueError as exc:
            raise ConfigError(f"{name}: {entry!r}: {exc}, e.g. {_REQUIREMENTS_EXAMPLE!r}") from None
    return requirements


@dataclass(frozen=True, slots=True)
class EnvSetting:
    """``target`` is a ``ThunderIDConfig`` field, or ``session_cookie.<field>``."""

    target: str
    parse: Parser


ENV_SETTINGS: Mapping[str, EnvSetting] = {
    "CLIENT_ID": EnvSetting("client_id", _text),
    "CLIENT_SECRET": EnvSetting("client_secret", _text),
    "CLIENT_PRIVATE_KEY": EnvSetting("client_private_key", _text),
    "CLIENT_PRIVATE_KEY_ID": EnvSetting("client_private_key_id", _text),
    "DPOP": EnvSetting("dpop", _boolean),
    "AFTER_SIGN_IN_URL": EnvSetting("after_sign_in_url", _text),
    "AFTER_SIGN_OUT_URL": EnvSetting("after_sign_out_url", _text),
    "END_SESSION_HINT": EnvSetting(
        "end_session_hint", _choice("both", "id_token_hint", "client_id")
    ),
    "SECRET": EnvSetting("secret", _text),
    "BASE_URL": EnvSetting("base_url", _text),
    "SCOPES": EnvSetting("scopes", _words),
    "DISCOVERY_URL": EnvSetting("discovery_url", _text),
    "ISSUER": EnvSetting("issuer", _text),
    "TOKEN_ENDPOINT_AUTH_METHOD": EnvSetting(
        "token_endpoint_auth_method",
        _choice("client_secret_basic", "client_secret_post", "private_key_jwt", "none"),
    ),
    "EXTRA_AUTHORIZE_PARAMS": EnvSetting("extra_authorize_params", _query),
    "PUSHED_AUTHORIZATION_REQUESTS": EnvSetting(
        "pushed_authorization_requests", _choice("auto", "always", "never")
    ),
    "SIGN_IN_PATH": EnvSetting("sign_in_path", _text),
    "SIGN_OUT_PATH": EnvSetting("sign_out_path", _text),
    "BACKCHANNEL_LOGOUT_PATH": EnvSetting("backchannel_logout_path", _optional_path),
    "PROTECTED_PATHS": EnvSetting("protected_paths", _comma_list),
    "PATH_REQUIREMENTS": EnvSetting("path_requirements", _path_requirements),
    "SIGN_IN_ACR_VALUES": EnvSetting("sign_in_acr_values", _words),
    "TRUSTED_PROXIES": EnvSetting("trusted_proxies", _comma_list),
    "STORE": EnvSetting("store", _text),  # a store URL; the client opens it
    "REFRESH_LEEWAY": EnvSetting("refresh_leeway", _number),
    "IDLE_TIMEOUT": EnvSetting("idle_timeout", _number),
    "ABSOLUTE_TIMEOUT": EnvSetting("absolute_timeout", _number),
    "TOUCH_INTERVAL": EnvSetting("touch_interval", _number),
    "REFRESH_WAIT_TIMEOUT": EnvSetting("refresh_wait_timeout", _number),
    "REFRESH_TIMEOUT": EnvSetting("refresh_timeout", _number),
    "REFRESH_RETRY_INTERVAL": EnvSetting("refresh_retry_interval", _number),
    "LOCK_LEASE": EnvSetting("lock_lease", _number),
    "CLOCK_SKEW": EnvSetting("clock_skew", _integer),
    "ENCRYPT_TOKENS": EnvSetting("encrypt_tokens", _boolean),
    "ENDED_SESSION_MEMORY": EnvSetting("ended_session_memory", _number),
    "SIGN_IN_TIMEOUT": EnvSetting("sign_in_timeout", _number),
    "MAX_SIGN_INS_IN_PROGRESS": EnvSetting("max_sign_ins_in_progress", _integer),
    "WEBSOCKET_RECHECK_INTERVAL": EnvSetting("websocket_recheck_interval", _number),
    "HTTP_TIMEOUT": EnvSetting("http_timeout", _number),
    "VERIFY_TLS": EnvSetting("verify_tls", _boolean),
    "CA_BUNDLE": EnvSetting("ca_bundle", _text),
    "COOKIE_NAME": EnvSetting("session_cookie.name", _text),
    "COOKIE_EXPIRY_TIME": EnvSetting("session_cookie.expiry_time", _integer),
    "COOKIE_HTTP_ONLY": EnvSetting("session_cookie.http_only", _boolean),
    "COOKIE_SAME_SITE": EnvSetting("session_cookie.same_site", _choice("lax", "strict", "none")),
    "COOKIE_SECURE": EnvSetting("session_cookie.secure", _boolean),
    "COOKIE_PATH": EnvSetting("session_cookie.path", _text),
    "COOKIE_DOMAIN": EnvSetting("session_cookie.domain", _text),
    "COOKIE_HOST_PREFIX": EnvSetting("session_cookie.host_prefix", _boolean),
}

COOKIE_TARGET = "session_cookie."
# Settings whose values are objects, not text: code only.
CODE_ONLY = frozenset({"hooks", "render_page"})


def settings_from_env(
    environ: Mapping[str, str], prefix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config fields, session cookie fields)`` read from ``environ``. Empty variables
    count as unset; unknown ones with ``prefix`` raise a ``ConfigWarning``."""
    config: dict[str, Any] = {}
    cookie: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(prefix):
            continue
        short = name[len(prefix) :]
        setting = ENV_SETTINGS.get(short)
        if setting is None:
            _warn_unknown(name, short, prefix)
            continue
        if raw == "":
            continue
        value = setting.parse(name, raw)
        if setting.target.startswith(COOKIE_TARGET):
            cookie[setting.target[len(COOKIE_TARGET) :]] = value
        else:
            config[setting.target] = value
    return config, cookie


def _warn_unknown(name: str, short: str, prefix: str) -> None:
    close = difflib.get_close_matches(short, list(ENV_SETTINGS), n=1, cutoff=0.75)
    hint = f"; did you mean {prefix}{close[0]}?" if close else ""
    warnings.warn(
        f"{name} is not a thunderid_mw setting and is ignored{hint}",
        ConfigWarning,
        stacklevel=4,
    )
