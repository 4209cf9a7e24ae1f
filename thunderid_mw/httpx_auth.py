"""``ThunderIDAuth``: an ``httpx.Auth`` that calls protected APIs for a session.

It sends the session's access token (fresh: refreshed when due) and, when the API answers
401, refreshes once — single-flight with every other request of the session — and retries
once. Works with ``httpx.Client`` and ``httpx.AsyncClient``; ``asyncio.gather`` of many
calls shares one refresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from .client import AsyncThunderIDClient, ThunderIDClient


class ThunderIDAuth(httpx.Auth):
    def __init__(self, client: ThunderIDClient | AsyncThunderIDClient, session_id: str):
        self.client = client
        self.session_id = session_id

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        from .client import ThunderIDClient

        client = self.client
        if not isinstance(client, ThunderIDClient):
            raise TypeError(
                "this ThunderIDAuth holds an AsyncThunderIDClient: use it with httpx.AsyncClient"
            )
        token = client.get_access_token(self.session_id)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        renewed = client.context_for_session(self.session_id, rejected_token=token)
        request.headers["Authorization"] = f"Bearer {renewed.require_access_token()}"
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        request.headers["Authorization"] = f"Bearer {await self._access_token(rejected=token)}"
        yield request

    async def _access_token(self, rejected: str | None = None) -> str:
        from .client import AsyncThunderIDClient

        client = self.client
        if isinstance(client, AsyncThunderIDClient):
            if rejected is None:
                return await client.get_access_token(self.session_id)
            ctx = await client.context_for_session(self.session_id, rejected_token=rejected)
            return ctx.require_access_token()
        # A blocking client inside an event loop: keep the loop free.
        if rejected is None:
            return await asyncio.to_thread(client.get_access_token, self.session_id)
        ctx = await asyncio.to_thread(
            lambda: client.context_for_session(self.session_id, rejected_token=rejected)
        )
        return ctx.require_access_token()
