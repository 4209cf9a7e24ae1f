"""What a request can do for its session, typed once for sync and once for async code.

``client.actions(ctx)`` gives ``SessionActions`` for a ``ThunderIDClient`` (WSGI) and
``AsyncSessionActions`` for an ``AsyncThunderIDClient`` (ASGI). ``AuthContext``'s own
action methods (``ctx.exchange_token`` ...) call these; under ASGI they are awaited.
"""

from __future__ import annotations

from typing import Any, Protocol

from .core.config import TokenExchangeConfig
from .core.errors import NotSignedIn
from .httpx_auth import ThunderIDAuth
from .token_source import AsyncTokenSource, TokenSource


class SyncActionClient(TokenSource, Protocol):
    def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None: ...
    def revoke_access_token(self, session_id: str) -> None: ...
    def sign_out(self, session_id: str) -> str: ...


class AsyncActionClient(AsyncTokenSource, Protocol):
    async def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None: ...
    async def revoke_access_token(self, session_id: str) -> None: ...
    async def sign_out(self, session_id: str) -> str: ...


class _Bound:
    __slots__ = ("_session_id",)

    def __init__(self, session_id: str | None):
        self._session_id = session_id  # None when the request is signed out

    def _require_session(self) -> str:
        if self._session_id is None:
            raise NotSignedIn()
        return self._session_id

    def __repr__(self) -> str:  # the session id is a credential: never shown
        state = "signed in" if self._session_id is not None else "signed out"
        return f"<{type(self).__name__} {state}>"


class SessionActions(_Bound):
    """The session's actions through a blocking client."""

    __slots__ = ("_client",)

    def __init__(self, client: SyncActionClient, session_id: str | None):
        super().__init__(session_id)
        self._client = client

    def access_token(self) -> str:
        return self._client.access_token_for(self._require_session())

    def exchange_token(self, config: TokenExchangeConfig) -> dict[str, Any] | None:
        return self._client.exchange_token(config, self._session_id)

    def revoke_access_token(self) -> None:
        self._client.revoke_access_token(self._require_session())

    def sign_out(self) -> str:
        """End the session (revoking its tokens); returns the end-session URL."""
        return self._client.sign_out(self._require_session())

    def auth(self) -> ThunderIDAuth:
        """An ``httpx.Auth`` sending this session's access token (refreshing on a 401)."""
        return ThunderIDAuth(self._client, self._require_session())


class AsyncSessionActions(_Bound):
    """The session's actions through an async client (awaited)."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncActionClient, session_id: str | None):
        super().__init__(session_id)
        self._client = client

    async def access_token(self) -> str:
        return await self._client.access_token_for(self._require_session())

    async def exchange_token(self, config: TokenExchangeConfig) -> dict[str, Any] | None:
        return await self._client.exchange_token(config, self._session_id)

    async def revoke_access_token(self) -> None:
        await self._client.revoke_access_token(self._require_session())

    async def sign_out(self) -> str:
        return await self._client.sign_out(self._require_session())

    def auth(self) -> ThunderIDAuth:
        """An ``httpx.Auth`` for ``httpx.AsyncClient``; with ``httpx.Client`` in a worker
        thread it runs each token call on the client's event loop."""
        return ThunderIDAuth(self._client, self._require_session())

    def token_source(self) -> TokenSource:
        """A blocking token source for sync code in a worker thread under ASGI."""
        return self._client.blocking_token_source()


__all__ = ["AsyncActionClient", "AsyncSessionActions", "SessionActions", "SyncActionClient"]
