"""thunderid_mw: WSGI and ASGI authentication middleware for ThunderID (OAuth 2.0 / OIDC)."""

from importlib.metadata import PackageNotFoundError, version

from .actions import AsyncSessionActions, SessionActions
from .asgi import ThunderIDASGIMiddleware
from .client import AsyncThunderIDClient, ThunderIDClient
from .context import AuthContext
from .core.config import SessionCookieConfig, ThunderIDConfig, TokenExchangeConfig
from .core.config_env import ConfigWarning
from .core.errors import (
    ConfigError,
    IDTokenError,
    NotSignedIn,
    ProviderError,
    RefreshUnavailable,
    SignInError,
    StoreContention,
    StoreUnavailable,
    ThunderIDError,
    TLSVerificationError,
    TokenEndpointError,
)
from .core.exchange import token_exchange_params
from .core.hooks import Hooks, SessionEndEvent, SignInEvent, SignInRejected, SignOutEvent
from .core.responses import Link, Page, PageBody, PageKind
from .core.session import EndReason
from .httpx_auth import ThunderIDAuth
from .token_source import AsyncTokenSource, BlockingTokenSource, TokenSource
from .wsgi import ThunderIDWSGIMiddleware

try:
    __version__ = version("thunderid-mw")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AsyncSessionActions",
    "AsyncThunderIDClient",
    "AsyncTokenSource",
    "AuthContext",
    "BlockingTokenSource",
    "ConfigError",
    "ConfigWarning",
    "EndReason",
    "Hooks",
    "IDTokenError",
    "Link",
    "NotSignedIn",
    "Page",
    "PageBody",
    "PageKind",
    "ProviderError",
    "RefreshUnavailable",
    "SessionActions",
    "SessionCookieConfig",
    "SessionEndEvent",
    "SignInError",
    "SignInEvent",
    "SignInRejected",
    "SignOutEvent",
    "StoreContention",
    "StoreUnavailable",
    "TLSVerificationError",
    "ThunderIDASGIMiddleware",
    "ThunderIDAuth",
    "ThunderIDClient",
    "ThunderIDConfig",
    "ThunderIDError",
    "ThunderIDWSGIMiddleware",
    "TokenEndpointError",
    "TokenExchangeConfig",
    "TokenSource",
    "__version__",
    "token_exchange_params",
]
