"""Configuration records: ``ThunderIDConfig``, ``SessionCookieConfig``, ``TokenExchangeConfig``.

Plain frozen dataclasses, validated once at construction so a mistake fails at start-up
with a message that names the field, not at the first request.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from .errors import ConfigError
from .hooks import Hooks
from .proxy import Network, parse_networks
from .redact import redact_url
from .responses import Page, PageBody

if TYPE_CHECKING:
    from ..stores.base import SessionStore
    from .authorization import Requirement

SameSite = Literal["lax", "strict", "none"]
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
# What identifies the client and session on the RP-initiated logout request.
EndSessionHint = Literal["both", "id_token_hint", "client_id"]
END_SESSION_HINTS: tuple[EndSessionHint, ...] = ("both", "id_token_hint", "client_id")
# Pushed authorization requests (RFC 9126): "auto" pushes when the provider requires it.
PushedAuthorizationRequests = Literal["auto", "always", "never"]
PAR_MODES: tuple[PushedAuthorizationRequests, ...] = ("auto", "always", "never")

DEFAULT_COOKIE_NAME = "__thunderid__session"
DEFAULT_BASE_URL = "https://localhost:8090"
MIN_SECRET_LENGTH = 32
SECRET_ADVICE = (
    "generate one with: thunderid-mw secret "
    "(or python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)
# Placeholders people paste from examples (compared without case and punctuation).
_PLACEHOLDER_WORDS = ("changeme", "replaceme", "placeholder", "yoursecret", "secrethere")
_MIN_DISTINCT_SECRET_CHARS = 8
# (setting, minimum, minimum allowed?) for every numeric setting; None means "default".
NUMERIC_RANGES: tuple[tuple[str, float, bool], ...] = (
    ("refresh_leeway", 0, True),
    ("http_timeout", 0, False),
    ("idle_timeout", 0, False),
    ("absolute_timeout", 0, False),
    ("touch_interval", 0, True),
    ("sign_in_timeout", 0, False),
    ("max_sign_ins_in_progress", 1, True),
    ("refresh_wait_timeout", 0, False),
    ("refresh_timeout", 0, False),
    ("refresh_retry_interval", 0, True),
    ("lock_lease", 0, False),
    ("clock_skew", 0, True),
    ("websocket_recheck_interval", 0, False),
    ("ended_session_memory", 0, True),
)


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is clearly guessable (a repeated character, a pasted placeholder),
    or None. Length is checked separately."""
    if len(set(secret)) < _MIN_DISTINCT_SECRET_CHARS:
        return f"it uses fewer than {_MIN_DISTINCT_SECRET_CHARS} different characters"
    folded = "".join(ch for ch in secret.lower() if ch.isalnum())
    for word in _PLACEHOLDER_WORDS:
        if word in folded:
            return f"it contains the placeholder {word!r}"
    if "<" in secret and ">" in secret:
        return "it looks like a template placeholder (<...>)"
    return None


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
    # private_key_jwt (RFC 7523): the client's private key, PEM or JWK JSON text, and the
    # kid the provider knows its public key by (default: the JWK's own kid).
    client_private_key: str | None = field(default=None, repr=False)
    client_private_key_id: str | None = None
    # DPoP (RFC 9449): tokens bound to a per-session key; proofs on every token request
    # and, through ctx.auth(), on every API call.
    dpop: bool = False
    after_sign_out_url: str | None = None
    # What the end-session request carries besides post_logout_redirect_uri and state:
    # the session's ID token, the client_id, or both (some providers need one or the other).
    end_session_hint: EndSessionHint = "both"
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
    # The acr values /sign-in accepts from its query (step-up); others are dropped. None:
    # any well-formed value. Path requirements' acr values must be on it.
    sign_in_acr_values: tuple[str, ...] | None = None
    # Addresses or networks (CIDR) of reverse proxies whose Forwarded / X-Forwarded-Proto /
    # X-Forwarded-Host headers tell the request's public origin; nobody else's are read.
    trusted_proxies: tuple[str, ...] = ()
    # Provider.
    discovery_url: str | None = None
    issuer: str | None = None
    token_endpoint_auth_method: ClientAuthMethod | None = None
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    pushed_authorization_requests: PushedAuthorizationRequests = "auto"
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
    # The app's own code on sign-in, sign-out and session end (core/hooks.py).
    hooks: Hooks = field(default_factory=Hooks)
    # Draws the pages the middleware shows browsers (core/responses.py ``Page``): returns a
    # ``PageBody``, a ``str`` of HTML, or None for the built-in page.
    render_page: Callable[[Page], PageBody | str | None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigError("client_id is required")
        if not self.secret or len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"secret must be at least {MIN_SECRET_LENGTH} characters and shared by every "
                f"worker and host; {SECRET_ADVICE}"
            )
        if (weakness := secret_weakness(self.secret)) is not None:
            raise ConfigError(f"secret is weak: {weakness}; {SECRET_ADVICE}")
        _require_absolute_url("after_sign_in_url", self.after_sign_in_url)
        if urlsplit(self.after_sign_in_url).path in ("", "/"):
            # Its path is the callback route: "/" would turn the home page into it.
            raise ConfigError(
                f"after_sign_in_url {self.after_sign_in_url!r} needs a path of its own, e.g. "
                f"{self.after_sign_in_url.rstrip('/')}/callback: the middleware takes that "
                "path over as its callback route"
            )
        _require_absolute_url("base_url", self.base_url)
        if self.after_sign_out_url is not None:
            _require_absolute_url("after_sign_out_url", self.after_sign_out_url)
        if self.end_session_hint not in END_SESSION_HINTS:
            raise ConfigError(
                f"end_session_hint must be one of {', '.join(END_SESSION_HINTS)}, "
                f"not {self.end_session_hint!r}"
            )
        if self.pushed_authorization_requests not in PAR_MODES:
            raise ConfigError(
                f"pushed_authorization_requests must be one of {', '.join(PAR_MODES)}, "
                f"not {self.pushed_authorization_requests!r}"
            )
        if "openid" not in self.scopes:
            raise ConfigError("scopes must include 'openid'")
        if self.token_endpoint_auth_method in ("client_secret_basic", "client_secret_post") and (
            not self.client_secret
        ):
            raise ConfigError(f"{self.token_endpoint_auth_method} needs client_secret")
        if self.auth_method == "private_key_jwt" and not self.client_private_key:
            raise ConfigError("private_key_jwt needs client_private_key (PEM or JWK)")
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
        for path, requirement in self.path_requirements.items():
            if not path.startswith("/"):
                raise ConfigError(f"path_requirements keys must start with '/', got {path!r}")
            allowed = self.sign_in_acr_values
            if allowed is not None and not requirement.acr <= set(allowed):
                raise ConfigError(
                    f"path_requirements[{path!r}] needs acr {' or '.join(sorted(requirement.acr))}"
                    ", which sign_in_acr_values does not allow: the step-up could never ask "
                    "for it"
                )
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ConfigError(
                f"trusted_proxies must be IP addresses or networks (10.0.0.0/8): {exc}"
            ) from None
        if self.ca_bundle is not None and not os.path.exists(self.ca_bundle):
            raise ConfigError(f"ca_bundle {self.ca_bundle!r} does not exist")
        self._check_ranges()
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
        if self.session_cookie.host_prefix and not self.cookie_secure:
            raise ConfigError("session_cookie.host_prefix needs a Secure cookie (https)")

    def _check_ranges(self) -> None:
        """Every number is finite and in its range: ``idle_timeout=0`` would end each
        session as it starts (an endless sign-in loop), a negative one likewise."""
        for name, minimum, inclusive in NUMERIC_RANGES:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
                bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
                raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")

    def __repr__(self) -> str:
        """Every setting but the secrets; a store URL without its password."""
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        store = redact_url(self.store) if isinstance(self.store, str) else self.store
        return f"ThunderIDConfig({shown}, store={store!r}, secret=<redacted>)"

    # Derived values -----------------------------------------------------------------

    @property
    def callback_path(self) -> str:
        return urlsplit(self.after_sign_in_url).path or "/"

    @cached_property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def app_origin(self) -> str:
        parts = urlsplit(self.after_sign_in_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def post_sign_out_url(self) -> str:
        return self.after_sign_out_url or self.app_origin + "/"

    @cached_property
    def sign_out_return_path(self) -> str | None:
        """The path of ``post_sign_out_url`` when it is on this app's origin (where the
        sign-out state cookie can be read on the way back), else None."""
        parts = urlsplit(self.post_sign_out_url)
        if f"{parts.scheme}://{parts.netloc}" != self.app_origin:
            return None
        return parts.path or "/"

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
        if self.client_secret:
            return "client_secret_basic"
        return "private_key_jwt" if self.client_private_key else "none"

    # Environment ----------------------------------------------------------------------

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, prefix: str = "THUNDERID_", **overrides: Any
    ) -> ThunderIDConfig:
        """Build a config from ``THUNDERID_*`` variables; keyword arguments win.

        Every setting has a variable (the table in ``core/config_env.py`` and
        docs/configuration.md); an unknown ``THUNDERID_*`` variable gives a
        ``ConfigWarning`` naming the closest known one."""
        from .config_env import settings_from_env

        env = os.environ if environ is None else environ
        kwargs, cookie_changes = settings_from_env(env, prefix)
        if cookie_changes:
            kwargs["session_cookie"] = SessionCookieConfig(**cookie_changes)
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
