"""Where ``ThunderIDAuth`` gets a session's access token: a small protocol, so the auth
object never needs to know which client class it holds.

``ThunderIDClient`` is a ``TokenSource``, ``AsyncThunderIDClient`` an ``AsyncTokenSource``.
``BlockingTokenSource`` lets *sync* code running in a worker thread under an ASGI server
(a Django sync view, ``run_in_threadpool``) use the middleware's async client: each call
runs on the server's event loop and the thread waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

#: How long a blocking call waits for the event loop before giving up (seconds).
BLOCKING_TIMEOUT = 60.0


class TokenSource(Protocol):
    def access_token_for(self, session_id: str, rejected: str | None = None) -> str:
        """The session's access token, refreshed when due. With ``rejected`` (a token an
        API answered 401 to), a token other than that one: refreshed unless a sibling
        request has already replaced it."""
        ...


class AsyncTokenSource(Protocol):
    async def access_token_for(self, session_id: str, rejected: str | None = None) -> str: ...

    def blocking_token_source(self) -> TokenSource:
        """A ``TokenSource`` for sync code in another thread (see ``BlockingTokenSource``)."""
        ...


class BlockingTokenSource:
    """A ``TokenSource`` that runs an ``AsyncTokenSource`` on ``loop`` (the ASGI server's
    event loop) and blocks the calling thread until it answers. Call it from a worker
    thread only: called on the loop's own thread it would wait for itself, so it raises."""

    def __init__(
        self,
        source: AsyncTokenSource,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout: float = BLOCKING_TIMEOUT,
    ):
        self._source = source
        self._loop = loop
        self._timeout = timeout

    def access_token_for(self, session_id: str, rejected: str | None = None) -> str:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError(
                "a BlockingTokenSource was called on its own event loop: await the async "
                "client (or use httpx.AsyncClient) in async code"
            )
        call = self._source.access_token_for(session_id, rejected)
        return asyncio.run_coroutine_threadsafe(call, self._loop).result(self._timeout)

    def __repr__(self) -> str:
        return f"<BlockingTokenSource of {type(self._source).__name__}>"


__all__ = ["AsyncTokenSource", "BlockingTokenSource", "TokenSource"]
