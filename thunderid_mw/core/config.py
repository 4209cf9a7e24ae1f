"""Configuration records: ``ThunderIDConfig``, ``SessionCookieConfig``, ``TokenExchangeConfig``.

Plain frozen dataclasses, validated once at construction so a mistake fails at start-up
with a message that names the field, not at the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigError
from .redact import redact_url

if TYPE_CHECKING:
    from ..stores.base import SessionStore
    from .authorization import Requirement

SameSite = Literal["lax", "strict", "none"]
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]

DEFAULT_COOKIE_NAME = "__thunderid__session"
DEFAULT_BASE_URL = "https://localhost:8090"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True, slots=True)
class SessionCookieConfig:
    """The session cookie (names and defaults of the Node SDK's ``sessionCookie``).

    ``secure=None`` means: Secure exactly when ``after_sign_in_url`` is https.
    ``host_prefix=None`` means: on a Secure cookie with ``path="/"`` and no ``domain``, the
    names get the ``__Host-`` prefix, so a sibling subdomain cannot plant or shadow them
    (cookie tossing); ``False`` keeps the plain names.
    """

    name: str = DEFAULT_COOKIE_NAME
    expiry_time: int = 86400
    http_only: bool = True
    same_site: SameSite = "lax"
    secure: bool | None = None
    path: str = "/"
    domain: str | None = None
    host_prefix: bool | None = None

    def __post_init__(self) -> None:
        if self.host_prefix and (self.path != "/" or self.domain is not None):
            raise ConfigError("session_cookie.host_prefix needs path='/' and no domain")
        if self.same_site not in ("lax", "strict", "none"):
            raise ConfigError("session_cookie.same_site must be 'lax', 'strict' or 'none'")
        if self.expiry_time <= 0:
            raise ConfigError("session_cookie.expiry_time must be a positive number of seconds")
        if not self.name or any(c in self.name for c in ' =;,"\t\r\n'):
            raise ConfigError(f"session_cookie.name {self.name!r} is not a valid cookie name")


@dataclass(frozen=True, slots=True)
class TokenExchangeConfig:
    """One call to the token endpoint, as the Node SDK's ``exchangeToken`` takes it.

    ``data`` values may contain the placeholders ``{{accessToken}}``, ``{{clientId}}``,
    ``{{clientSecret}}``, ``{{scopes}}`` and ``{{username}}``.
    """

    id: str
    data: Mapping[str, str] = field(repr=False)  # may hold a literal credential
    attach_token: bool = False
    returns_session: bool = False
    return_response: bool = True
    sign_in_required: bool = True
    token_endpoint: str | None = None


@dataclass(frozen=True)
class ThunderIDConfig:
    """Everything the middleware and the client need. See ``docs/configuration.md``."""

    client_id: str
    after_sign_in_url: str
    secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    client_secret: str | None = field(default=None, repr=False)
    after_sign_out_url: str | None = None
    scopes: tuple[str, ...] = ("openid", "profile")
    session_cookie: SessionCookieConfig = field(default_factory=SessionCookieConfig)
    # A store, a store URL, or None for SQLite. Shown by repr() without a password.
    store: SessionStore | str | None = field(default=None, repr=False)
    refresh_leeway: float = 60.0
    # Routes handled by the middleware; the callback route is the path of after_sign_in_url.
    sign_in_path: str = "/sign-in"
    sign_out_path: str = "/sign-out"
    # OpenID Connect Back-Channel Logout endpoint (None: disabled).
    backchannel_logout_path: str | None = "/backchannel-logout"
    protected_paths: tuple[str, ...] = ()
    # Path (prefix, as in protected_paths) -> Requirement; such paths need a signed-in
    # user who meets it, others get 403. See core/authorization.py.
    path_requirements: Mapping[str, Requirement] = field(default_factory=dict)
    # Provider.
    discovery_url: str | None = None
    issuer: str | None = None
    token_endpoint_auth_method: ClientAuthMethod | None = None
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    # HTTP to the provider.
    http_timeout: float = 10.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    # Session lifetimes (seconds). A session ends at the earliest of these and the refresh
    # token's own expiry.
    idle_timeout: float = 8 * 3600
    absolute_timeout: float | None = None  # default: session_cookie.expiry_time
    touch_interval: float = 60.0
    # Sign-in transactions (one per sign-in in progress, e.g. parallel tabs).
    sign_in_timeout: float = 600.0
    max_sign_ins_in_progress: int = 5
    # Refresh coordination.
    refresh_wait_timeout: float = 10.0
    # How long the refresh itself waits for the token endpoint's answer (its lease kept
    # alive): a refresh that reached the provider must learn its outcome, not be retried.
    refresh_timeout: float = 60.0
    # After a refresh failed (IdP down or 5xx), wait this long before trying again.
    refresh_retry_interval: float = 5.0
    lock_lease: float | None = None  # default: http_timeout + 5
    clock_skew: int = 60
    # How often an open WebSocket re-checks that its session is still alive.
    websocket_recheck_interval: float = 15.0
    # How long an ended session is remembered so the context can say why it ended.
    ended_session_memory: float = 3600.0
    encrypt_tokens: bool = True

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigError("client_id is required")
        if not self.secret or len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"secret must be at least {MIN_SECRET_LENGTH} characters and shared by every "
                "worker and host; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        _require_absolute_url("after_sign_in_url", self.after_sign_in_url)
        _require_absolute_url("base_url", self.base_url)
        if self.after_sign_out_url is not None:
            _require_absolute_url("after_sign_out_url", self.after_sign_out_url)
        if "openid" not in self.scopes:
            raise ConfigError("scopes must include 'openid'")
        if self.token_endpoint_auth_method in ("client_secret_basic", "client_secret_post") and (
            not self.client_secret
        ):
            raise ConfigError(f"{self.token_endpoint_auth_method} needs client_secret")
        for name in ("sign_in_path", "sign_out_path"):
            value = getattr(self, name)
            if not value.startswith("/"):
                raise ConfigError(f"{name} must start with '/', got {value!r}")
        if self.backchannel_logout_path is not None and not self.backchannel_logout_path.startswith(
            "/"
        ):
            raise ConfigError("backchannel_logout_path must start with '/'")
        routes = [self.sign_in_path, self.sign_out_path, self.callback_path]
        if self.backchannel_logout_path is not None:
            routes.append(self.backchannel_logout_path)
        if len(set(routes)) != len(routes):
            raise ConfigError(
                "sign_in_path, sign_out_path, backchannel_logout_path and the callback path "
                "must differ"
            )
        for path in self.protected_paths:
            if not path.startswith("/"):
                raise ConfigError(f"protected_paths entries must start with '/', got {path!r}")
        for path in self.path_requirements:
            if not path.startswith("/"):
                raise ConfigError(f"path_requirements keys must start with '/', got {path!r}")
        if self.ca_bundle is not None and not os.path.exists(self.ca_bundle):
            raise ConfigError(f"ca_bundle {self.ca_bundle!r} does not exist")
        if self.refresh_leeway < 0 or self.refresh_wait_timeout <= 0:
            raise ConfigError("refresh_leeway must be >= 0 and refresh_wait_timeout > 0")
        if self.refresh_timeout < self.http_timeout:
            raise ConfigError(
                f"refresh_timeout ({self.refresh_timeout}s) must be at least http_timeout "
                f"({self.http_timeout}s): a refresh waits longer for its answer, not shorter"
            )
        if self.lock_lease is not None and self.lock_lease <= self.http_timeout:
            # A live holder still waiting for the IdP must not lose its lease to a sibling.
            raise ConfigError(
                f"lock_lease ({self.lock_lease}s) must be longer than http_timeout "
                f"({self.http_timeout}s)"
            )
        if self.refresh_retry_interval < 0:
            raise ConfigError("refresh_retry_interval must be >= 0")
        if self.max_sign_ins_in_progress < 1:
            raise ConfigError("max_sign_ins_in_progress must be at least 1")
        if self.session_cookie.host_prefix and not self.cookie_secure:
            raise ConfigError("session_cookie.host_prefix needs a Secure cookie (https)")

    def __repr__(self) -> str:
        """Every setting but the secrets; a store URL without its password."""
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        store = redact_url(self.store) if isinstance(self.store, str) else self.store
        return f"ThunderIDConfig({shown}, store={store!r}, secret=<redacted>)"

    # Derived values -----------------------------------------------------------------

    @property
    def callback_path(self) -> str:
        return urlsplit(self.after_sign_in_url).path or "/"

    @property
    def app_origin(self) -> str:
        parts = urlsplit(self.after_sign_in_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def post_sign_out_url(self) -> str:
        return self.after_sign_out_url or self.app_origin + "/"

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie.secure is not None:
            return self.session_cookie.secure
        return self.after_sign_in_url.startswith("https://")

    @cached_property
    def cookie_name(self) -> str:
        """The session cookie's name as sent: ``__Host-`` prefixed where it can be
        (validated in ``__post_init__``)."""
        cookie = self.session_cookie
        prefixed = cookie.host_prefix
        if prefixed is None:
            prefixed = self.cookie_secure and cookie.path == "/" and cookie.domain is None
        return "__Host-" + cookie.name if prefixed else cookie.name

    @property
    def session_max_age(self) -> float:
        return float(self.absolute_timeout or self.session_cookie.expiry_time)

    @property
    def effective_lock_lease(self) -> float:
        return self.lock_lease if self.lock_lease is not None else self.http_timeout + 5.0

    @property
    def effective_discovery_url(self) -> str:
        return self.discovery_url or (
            self.base_url.rstrip("/") + "/.well-known/openid-configuration"
        )

    @property
    def auth_method(self) -> ClientAuthMethod:
        if self.token_endpoint_auth_method is not None:
            return self.token_endpoint_auth_method
        return "client_secret_basic" if self.client_secret else "none"

    # Environment ----------------------------------------------------------------------

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, prefix: str = "THUNDERID_", **overrides: Any
    ) -> ThunderIDConfig:
        """Build a config from ``THUNDERID_*`` variables; keyword arguments win.

        Recognised: BASE_URL, CLIENT_ID, CLIENT_SECRET, AFTER_SIGN_IN_URL,
        AFTER_SIGN_OUT_URL, SECRET, SCOPES (space separated), STORE (a store URL:
        ``memory://``, ``sqlite:///path``, ``redis://…``, ``rediss://…``, ``unix://…``),
        PROTECTED_PATHS (comma separated), CA_BUNDLE, VERIFY_TLS (0/1), REFRESH_LEEWAY,
        HTTP_TIMEOUT, DISCOVERY_URL, ISSUER, COOKIE_NAME, COOKIE_SECURE (0/1),
        COOKIE_HOST_PREFIX (0/1), SIGN_IN_PATH, SIGN_OUT_PATH, BACKCHANNEL_LOGOUT_PATH,
        IDLE_TIMEOUT, ABSOLUTE_TIMEOUT,
        TOUCH_INTERVAL, REFRESH_WAIT_TIMEOUT, REFRESH_TIMEOUT, REFRESH_RETRY_INTERVAL,
        LOCK_LEASE,
        SIGN_IN_TIMEOUT, WEBSOCKET_RECHECK_INTERVAL (seconds).
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(prefix + name)
            return value if value not in (None, "") else None

        kwargs: dict[str, Any] = {}
        text_fields = {
            "BASE_URL": "base_url",
            "CLIENT_ID": "client_id",
            "CLIENT_SECRET": "client_secret",
            "AFTER_SIGN_IN_URL": "after_sign_in_url",
            "AFTER_SIGN_OUT_URL": "after_sign_out_url",
            "SECRET": "secret",
            "CA_BUNDLE": "ca_bundle",
            "DISCOVERY_URL": "discovery_url",
            "ISSUER": "issuer",
            "SIGN_IN_PATH": "sign_in_path",
            "SIGN_OUT_PATH": "sign_out_path",
            "BACKCHANNEL_LOGOUT_PATH": "backchannel_logout_path",
        }
        for env_name, field_name in text_fields.items():
            if (value := get(env_name)) is not None:
                kwargs[field_name] = value
        float_fields = {
            "REFRESH_LEEWAY": "refresh_leeway",
            "HTTP_TIMEOUT": "http_timeout",
            "IDLE_TIMEOUT": "idle_timeout",
            "ABSOLUTE_TIMEOUT": "absolute_timeout",
            "TOUCH_INTERVAL": "touch_interval",
            "REFRESH_WAIT_TIMEOUT": "refresh_wait_timeout",
            "REFRESH_TIMEOUT": "refresh_timeout",
            "REFRESH_RETRY_INTERVAL": "refresh_retry_interval",
            "LOCK_LEASE": "lock_lease",
            "SIGN_IN_TIMEOUT": "sign_in_timeout",
            "WEBSOCKET_RECHECK_INTERVAL": "websocket_recheck_interval",
        }
        for env_name, field_name in float_fields.items():
            if (value := get(env_name)) is not None:
                try:
                    kwargs[field_name] = float(value)
                except ValueError:
                    raise ConfigError(
                        f"{prefix}{env_name} must be a number, got {value!r}"
                    ) from None
        if (value := get("SCOPES")) is not None:
            kwargs["scopes"] = tuple(value.replace(",", " ").split())
        if (value := get("PROTECTED_PATHS")) is not None:
            kwargs["protected_paths"] = tuple(p.strip() for p in value.split(",") if p.strip())
        if (value := get("VERIFY_TLS")) is not None:
            kwargs["verify_tls"] = _parse_bool(prefix + "VERIFY_TLS", value)
        cookie_changes: dict[str, Any] = {}
        if (value := get("COOKIE_NAME")) is not None:
            cookie_changes["name"] = value
        if (value := get("COOKIE_SECURE")) is not None:
            cookie_changes["secure"] = _parse_bool(prefix + "COOKIE_SECURE", value)
        if (value := get("COOKIE_HOST_PREFIX")) is not None:
            cookie_changes["host_prefix"] = _parse_bool(prefix + "COOKIE_HOST_PREFIX", value)
        if cookie_changes:
            kwargs["session_cookie"] = SessionCookieConfig(**cookie_changes)
        if (value := get("STORE")) is not None:
            kwargs["store"] = value  # a store URL; the client opens it
        kwargs.update(overrides)
        missing = [n for n in ("client_id", "after_sign_in_url", "secret") if n not in kwargs]
        if missing:
            names = ", ".join(prefix + n.upper() for n in missing)
            raise ConfigError(f"missing configuration: set {names}")
        return cls(**kwargs)


def _require_absolute_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an absolute http(s) URL, got {value!r}")


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {value!r}")
