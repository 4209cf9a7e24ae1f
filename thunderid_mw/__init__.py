"""thunderid_mw: WSGI and ASGI authentication middleware for ThunderID (OAuth 2.0 / OIDC)."""

from .asgi import ThunderIDASGIMiddleware
from .client import AsyncThunderIDClient, ThunderIDClient
from .context import AuthContext
from .core.config import SessionCookieConfig, ThunderIDConfig, TokenExchangeConfig
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
from .core.session import EndReason
from .httpx_auth import ThunderIDAuth
from .wsgi import ThunderIDWSGIMiddleware

__all__ = [
    "AsyncThunderIDClient",
    "AuthContext",
    "ConfigError",
    "EndReason",
    "IDTokenError",
    "NotSignedIn",
    "ProviderError",
    "RefreshUnavailable",
    "SessionCookieConfig",
    "SignInError",
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
    "token_exchange_params",
]
