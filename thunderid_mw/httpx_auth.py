"""``ThunderIDAuth``: an ``httpx.Auth`` that calls protected APIs for a session.

It sends the session's access token (fresh: refreshed when due) and, when the API answers
401, refreshes once — single-flight with every other request of the session — and retries
once. The token comes from a ``TokenSource`` (``ThunderIDClient``) or an
``AsyncTokenSource`` (``AsyncThunderIDClient``). Works with ``httpx.Client`` and
``httpx.AsyncClient``; ``asyncio.gather`` of many calls shares one refresh.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, Generator
from typing import cast

import httpx

from .token_source import AsyncTokenSource, TokenSource


class ThunderIDAuth(httpx.Auth):
    def __init__(self, source: TokenSource | AsyncTokenSource, session_id: str):
        self.source = source
        self.session_id = session_id
        self._is_async = inspect.iscoroutinefunction(source.access_token_for)

    @property
    def client(self) -> TokenSource | AsyncTokenSource:
        """The token source (named ``client`` before token sources existed)."""
        return self.source

    def _sync_source(self) -> TokenSource:
        if not self._is_async:
            return cast(TokenSource, self.source)
        # An async client used from sync code in a worker thread (e.g. a sync view under
        # an ASGI server): each token call runs on the client's event loop.
        return cast(AsyncTokenSource, self.source).blocking_token_source()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        source = self._sync_source()
        token = source.access_token_for(self.session_id)
        self._authorize(request, token)
        response = yield request
        if self._nonce_asked(request, response):
            self._authorize(request, token)
            response = yield request
        if response.status_code != 401:
            return
        self._authorize(request, source.access_token_for(self.session_id, token))
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._access_token()
        self._authorize(request, token)
        response = yield request
        if self._nonce_asked(request, response):
            self._authorize(request, token)
            response = yield request
        if response.status_code != 401:
            return
        self._authorize(request, await self._access_token(rejected=token))
        yield request

    def _authorize(self, request: httpx.Request, token: str) -> None:
        """``Bearer``, or ``DPoP`` with a fresh proof when the session's tokens are bound
        to its key (RFC 9449 7.1)."""
        make_proof = getattr(self.source, "dpop_proof", None)
        proof = (
            make_proof(self.session_id, token, request.method, str(request.url))
            if (make_proof is not None)
            else None
        )
        if proof is None:
            request.headers["Authorization"] = f"Bearer {token}"
            return
        request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = proof

    def _nonce_asked(self, request: httpx.Request, response: httpx.Response) -> bool:
        if "DPoP" not in request.headers:
            return False
        asked = getattr(self.source, "dpop_nonce_asked", None)
        return asked is not None and bool(asked(str(request.url), response))

    async def _access_token(self, rejected: str | None = None) -> str:
        if self._is_async:
            source = cast(AsyncTokenSource, self.source)
            return await source.access_token_for(self.session_id, rejected)
        # A blocking source inside an event loop: keep the loop free.
        blocking = cast(TokenSource, self.source)
        return await asyncio.to_thread(blocking.access_token_for, self.session_id, rejected)

    def __repr__(self) -> str:  # the session id is a credential: never shown
        return f"<ThunderIDAuth via {type(self.source).__name__}>"


__all__ = ["ThunderIDAuth"]
