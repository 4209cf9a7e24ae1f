"""``AuthContext``: what the middleware puts at ``environ["thunderid"]`` /
``scope["thunderid"]`` for every request.

A value: it imports only the core. Its owner (the client that made it) is reached through
a small protocol, so this module never imports the client, and the client's typed action
forms (``client.actions(ctx)``: ``SessionActions`` / ``AsyncSessionActions``) live beside
the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import quote

from .core.config import ThunderIDConfig, TokenExchangeConfig
from .core.errors import NotSignedIn
from .core.session import EndReason

#: Where the middlewares put the context: ``environ[CONTEXT_KEY]`` / ``scope[CONTEXT_KEY]``.
CONTEXT_KEY = "thunderid"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ContextOwner(Protocol):
    """What a context needs from the client that made it: its configuration (route
    paths) and the typed actions for a context (``ThunderIDClient.actions`` returns
    ``SessionActions``, ``AsyncThunderIDClient.actions`` ``AsyncSessionActions``)."""

    @property
    def config(self) -> ThunderIDConfig: ...

    def actions(self, ctx: AuthContext) -> Any: ...


class AuthContext:
    """The session of one request, read-only. Contexts of the same session version are
    shared between requests, so they hold no per-request state.

    Actions (``exchange_token``, ``revoke_access_token``, ``sign_out``, ``auth``) run
    through the middleware's client: under WSGI they return their result, under ASGI an
    awaitable. For typed forms use ``ctx.client.actions(ctx)`` or the client you hold:
    ``client.actions(ctx)`` is ``SessionActions`` (sync) or ``AsyncSessionActions``.
    """

    __slots__ = (
        "_access_token",
        "_client",
        "_ended_reason",
        "_expires_at",
        "_id_token",
        "_mount",
        "_scopes",
        "_session_id",
        "_signed_in",
        "_user",
        "sign_out_csrf_token",
    )

    def __init__(
        self,
        client: ContextOwner,
        *,
        session_id: str | None = None,
        user: Mapping[str, Any] | None = None,
        access_token: str | None = None,
        id_token: str | None = None,
        scopes: tuple[str, ...] = (),
        expires_at: float | None = None,
        ended_reason: EndReason | None = None,
        sign_out_csrf_token: str | None = None,
    ):
        self._client = client
        self._signed_in = session_id is not None and access_token is not None
        self._session_id = session_id
        self._user = MappingProxyType(dict(user)) if user else _EMPTY
        self._access_token = access_token
        self._id_token = id_token
        self._scopes = scopes
        self._expires_at = expires_at
        self._ended_reason = ended_reason
        #: Token for a sign-out form POSTed to the sign-out route (``csrf_token`` field).
        self.sign_out_csrf_token = sign_out_csrf_token
        self._mount = ""

    def mounted(self, prefix: str) -> AuthContext:
        """This context for an app mounted at ``prefix`` (``SCRIPT_NAME`` / ``root_path``):
        the paths it hands out carry the prefix. Contexts are shared, so this is a copy."""
        if prefix == self._mount:
            return self
        copy = object.__new__(AuthContext)
        for name in AuthContext.__slots__:
            object.__setattr__(copy, name, getattr(self, name))
        copy._mount = prefix
        return copy

    @property
    def is_signed_in(self) -> bool:
        return self._signed_in

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def user(self) -> Mapping[str, Any]:
        """The ID token's claims (``sub``, ``name``, ``email``, ...); empty when signed out."""
        return self._user

    @property
    def access_token(self) -> str | None:
        """Already refreshed if it was about to expire; None when signed out."""
        return self._access_token

    @property
    def id_token(self) -> str | None:
        return self._id_token

    @property
    def scopes(self) -> tuple[str, ...]:
        return self._scopes

    @property
    def expires_at(self) -> float | None:
        """When the access token expires (Unix time), if the provider said."""
        return self._expires_at

    @property
    def ended_reason(self) -> EndReason | None:
        """Why this request's session ended (signed out, expired, refresh rejected,
        revoked), when the cookie names a session that is over."""
        return self._ended_reason

    @property
    def client(self) -> ContextOwner:
        """The client that made this context (the middleware's)."""
        return self._client

    def require_access_token(self) -> str:
        if self._access_token is None:
            raise NotSignedIn(reason=self._ended_reason.value if self._ended_reason else None)
        return self._access_token

    def require_id_token(self) -> str:
        if self._id_token is None:
            raise NotSignedIn(
                "the session has no ID token",
                reason=self._ended_reason.value if self._ended_reason else None,
            )
        return self._id_token

    @property
    def sign_out_path(self) -> str:
        """POST here (with ``csrf_token=sign_out_csrf_token``) to sign out."""
        return self._mount + self._client.config.sign_out_path

    def sign_in_path(self, return_to: str = "/") -> str:
        """The sign-in route that comes back to ``return_to`` (a path on this site; under a
        mount prefix, the path as the browser sees it, e.g. ``/app/profile``)."""
        sign_in = self._mount + self._client.config.sign_in_path
        return sign_in + "?return_to=" + quote(return_to, safe="/")

    def exchange_token(self, config: TokenExchangeConfig) -> Any:
        return self._client.actions(self).exchange_token(config)

    def revoke_access_token(self) -> Any:
        self._require_session()
        return self._client.actions(self).revoke_access_token()

    def sign_out(self) -> Any:
        """End the session (revoking its tokens); returns the end-session URL."""
        self._require_session()
        return self._client.actions(self).sign_out()

    def auth(self) -> Any:
        """An ``httpx.Auth`` (``ThunderIDAuth``) sending this session's access token
        (refreshing on a 401)."""
        self._require_session()
        return self._client.actions(self).auth()

    def _require_session(self) -> str:
        if self._session_id is None or not self._signed_in:
            raise NotSignedIn()
        return self._session_id

    def __repr__(self) -> str:  # never shows tokens
        if not self._signed_in:
            return f"<AuthContext signed out ended_reason={self._ended_reason}>"
        return f"<AuthContext signed in sub={self._user.get('sub')!r}>"
