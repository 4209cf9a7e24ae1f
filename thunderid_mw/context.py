"""``AuthContext``: what the middleware puts at ``environ["thunderid"]`` /
``scope["thunderid"]`` for every request.

A value: it imports only the core. Its owner (the client that made it) is reached through
a small protocol, so this module never imports the client, and the client's typed action
forms (``client.actions(ctx)``: ``SessionActions`` / ``AsyncSessionActions``) live beside
the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True, init=False, eq=False, repr=False)
class AuthContext:
    """The session of one request, read-only. Contexts of the same session version are
    shared between requests, so they hold no per-request state.

    Its fields are plain (slotted, frozen) attributes, not properties: an app reads them on
    every request, and a slot is several times cheaper to read.

    Actions (``exchange_token``, ``revoke_access_token``, ``sign_out``, ``auth``) run
    through the middleware's client: under WSGI they return their result, under ASGI an
    awaitable. For typed forms use ``ctx.client.actions(ctx)`` or the client you hold:
    ``client.actions(ctx)`` is ``SessionActions`` (sync) or ``AsyncSessionActions``.
    """

    client: ContextOwner
    """The client that made this context (the middleware's)."""
    is_signed_in: bool
    session_id: str | None
    user: Mapping[str, Any]
    """The ID token's claims (``sub``, ``name``, ``email``, ...); empty when signed out."""
    access_token: str | None
    """Already refreshed if it was about to expire; None when signed out."""
    id_token: str | None
    scopes: tuple[str, ...]
    expires_at: float | None
    """When the access token expires (Unix time), if the provider said."""
    ended_reason: EndReason | None
    """Why this request's session ended (signed out, expired, refresh rejected, revoked),
    when the cookie names a session that is over."""
    sign_out_csrf_token: str | None
    """Token for a sign-out form POSTed to the sign-out route (``csrf_token`` field)."""
    _mount: str

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
        init = object.__setattr__  # frozen: the fields are set once, here
        init(self, "client", client)
        init(self, "is_signed_in", session_id is not None and access_token is not None)
        init(self, "session_id", session_id)
        init(self, "user", MappingProxyType(dict(user)) if user else _EMPTY)
        init(self, "access_token", access_token)
        init(self, "id_token", id_token)
        init(self, "scopes", scopes)
        init(self, "expires_at", expires_at)
        init(self, "ended_reason", ended_reason)
        init(self, "sign_out_csrf_token", sign_out_csrf_token)
        init(self, "_mount", "")

    def mounted(self, prefix: str) -> AuthContext:
        """This context for an app mounted at ``prefix`` (``SCRIPT_NAME`` / ``root_path``):
        the paths it hands out carry the prefix. Contexts are shared, so this is a copy."""
        if prefix == self._mount:
            return self
        copy = object.__new__(AuthContext)
        for name in AuthContext.__slots__:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "_mount", prefix)
        return copy

    def require_access_token(self) -> str:
        if self.access_token is None:
            raise NotSignedIn(reason=self.ended_reason.value if self.ended_reason else None)
        return self.access_token

    def require_id_token(self) -> str:
        if self.id_token is None:
            raise NotSignedIn(
                "the session has no ID token",
                reason=self.ended_reason.value if self.ended_reason else None,
            )
        return self.id_token

    @property
    def sign_out_path(self) -> str:
        """POST here (with ``csrf_token=sign_out_csrf_token``) to sign out."""
        return self._mount + self.client.config.sign_out_path

    def sign_in_path(self, return_to: str = "/") -> str:
        """The sign-in route that comes back to ``return_to`` (a path on this site; under a
        mount prefix, the path as the browser sees it, e.g. ``/app/profile``)."""
        sign_in = self._mount + self.client.config.sign_in_path
        return sign_in + "?return_to=" + quote(return_to, safe="/")

    def exchange_token(self, config: TokenExchangeConfig) -> Any:
        return self.client.actions(self).exchange_token(config)

    def revoke_access_token(self) -> Any:
        self._require_session()
        return self.client.actions(self).revoke_access_token()

    def sign_out(self) -> Any:
        """End the session (revoking its tokens); returns the end-session URL."""
        self._require_session()
        return self.client.actions(self).sign_out()

    def auth(self) -> Any:
        """An ``httpx.Auth`` (``ThunderIDAuth``) sending this session's access token
        (refreshing on a 401)."""
        self._require_session()
        return self.client.actions(self).auth()

    def _require_session(self) -> str:
        if self.session_id is None or not self.is_signed_in:
            raise NotSignedIn()
        return self.session_id

    def __repr__(self) -> str:  # never shows tokens
        if not self.is_signed_in:
            return f"<AuthContext signed out ended_reason={self.ended_reason}>"
        return f"<AuthContext signed in sub={self.user.get('sub')!r}>"
