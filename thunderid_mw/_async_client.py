"""The Node SDK's client for async code (``AsyncThunderIDClient``).

``_sync_client.py`` is generated from ``_async_client.py`` by scripts/unasync.py: edit
``_async_client.py``, then run ``python scripts/unasync.py``. The flows are the same
(``_client_base.ClientBase`` and ``thunderid_mw.core``); what the twins differ in — awaiting,
tasks or threads, the lock wait — lives in ``_background.py`` and ``_lock_wait.py``. Each
keeps the per-request fast path inline: it must cost almost nothing.
"""

from __future__ import annotations

import asyncio  # unasync: async only
import os
import time
from typing import Any, TypeVar

# unasync: sync only: import threading
import httpx

from ._background import AsyncBackground, AsyncLeaseRenewal
from ._client_base import ClientBase
from ._dpop import new_key as new_dpop_key
from ._hooks import acall_hook  # unasync: async only
from ._http import client_options, failure_of, result_of
from ._lock_wait import AsyncLocalLocks
from ._logging import emit
from .actions import AsyncSessionActions
from .context import AuthContext
from .core import effects as fx
from .core.config import ThunderIDConfig, TokenExchangeConfig
from .core.errors import RefreshUnavailable
from .core.handler import RequestInfo
from .core.id_token import decode_unverified_claims
from .core.inventory import SessionInfo, end_user_sessions, user_sessions
from .core.responses import Response
from .core.routing import Route
from .core.session import EndReason
from .stores.base import LocalAsyncTwins
from .token_source import BlockingTokenSource, TokenSource  # unasync: async only

# unasync: sync only: from ._hooks import call_hook

T = TypeVar("T")


class AsyncThunderIDClient(ClientBase):
    """The Node SDK's client for async code; every method takes the ``session_id`` it acts
    for."""

    def __init__(self, config: ThunderIDConfig, *, http: httpx.AsyncClient | None = None):
        super().__init__(config)
        self._http = http or httpx.AsyncClient(**client_options(config))
        self._local_locks = AsyncLocalLocks()
        self._background = AsyncBackground()
        # One fetch of discovery / JWKS at a time: concurrent first requests share it.
        self._provider_lock = asyncio.Lock()
        # Memory and SQLite answer a load in microseconds, with no IO to wait for.
        self._local_store = isinstance(self._store, LocalAsyncTwins)
        # unasync: async only begin
        # The loop this client last ran a flow on (for blocking_token_source).
        self._loop: asyncio.AbstractEventLoop | None = None
        # unasync: async only end

    async def aclose(self) -> None:
        """Close the HTTP client (the store stays open: it may be shared)."""
        await self._http.aclose()

    # Performing effects -----------------------------------------------------------------

    async def _run(self, flow: fx.Flow[T]) -> T:
        # unasync: async only begin
        # Every session reaches a process through a flow before its fast path, so the
        # loop is known here, off the per-request path (for blocking_token_source).
        self._loop = asyncio.get_running_loop()
        # unasync: async only end
        return await fx.adrive(flow, self._perform)

    async def _perform(self, effect: fx.Effect) -> Any:
        match effect:
            case fx.Load(key):
                return await self._store.aload(key)
            case fx.Save(key, data, expires_at, expected):
                return await self._store.asave(
                    key, data, expires_at=expires_at, expected_version=expected
                )
            case fx.Delete(key):
                return await self._store.adelete(key)
            case fx.Now():
                return time.time()
            case fx.RandomBytes(size):
                return os.urandom(size)
            case fx.NewDPoPKey():
                return new_dpop_key()
            case fx.HttpCall():
                return await self._http_call(effect)
            case fx.AcquireLock():
                return await self._acquire(effect)
            case fx.ReleaseLock(name, owner):
                return await self._release(name, owner)
            case fx.Sleep(seconds):
                await asyncio.sleep(seconds)
                return None
            case fx.GetKeySet(refresh):
                async with self._provider_lock:
                    return await self._run(self._key_set_flow(refresh))
            case fx.GetMetadata():
                if self._provider.metadata is not None:
                    return self._provider.metadata
                async with self._provider_lock:
                    return await self._run(self._discovery_flow())
            case fx.Log():
                emit(effect)
                return None
            case fx.StartRefresh(key, force):
                return self._start_refresh(key, force)
            case fx.RefreshFailedAt(key):
                return self._refresh_failed_at.get(key, 0.0)
            case fx.RunHook(hook, event):
                return await acall_hook(hook, event)  # unasync: async only
                # unasync: sync only: return call_hook(hook, event)
        raise TypeError(f"unknown effect {effect!r}")

    async def _http_call(self, call: fx.HttpCall) -> fx.HttpResult | fx.HttpFailure:
        renewal = AsyncLeaseRenewal(self._store, call.keep_lease) if call.keep_lease else None
        try:
            response = await self._http.request(call.method, call.url, **self._request_args(call))
            if self._dpop_retry(call, response):
                response = await self._http.request(
                    call.method, call.url, **self._request_args(call)
                )
        except httpx.HTTPError as exc:
            return failure_of(exc, call.url)
        finally:
            if renewal is not None:
                renewal.stop()
        return result_of(response)

    def _start_refresh(self, key: str, force: bool) -> bool:
        """Refresh the session in the background, once per process at a time."""
        if not self._claim_refresh(key):
            return False
        self._background.spawn("thunderid-refresh", lambda: self._refresh_job(key, force))
        return True

    async def _refresh_job(self, key: str, force: bool) -> None:
        await self._run(self._refresh_job_flow(key, force))

    async def _acquire(self, effect: fx.AcquireLock) -> bool:
        """The in-process lock first (waiters queue there, not on the store), then the
        store's lease."""
        name, owner = effect.name, effect.owner
        if not await self._local_locks.acquire(name, owner, effect.wait):
            return False
        try:
            taken = await self._store.aacquire_lock(name, owner, effect.lease)
        except BaseException:
            self._local_locks.release(name, owner)
            raise
        if not taken:
            self._local_locks.release(name, owner)
        return taken

    async def _release(self, name: str, owner: str) -> bool:
        try:
            return await self._store.arelease_lock(name, owner)
        finally:
            self._local_locks.release(name, owner)

    # Middleware entry points ------------------------------------------------------------

    async def context_for_cookie(self, cookie_header: str | None) -> AuthContext:
        """The request's context from its ``Cookie`` header (the per-request hot path)."""
        session_id = self._session_id_in(cookie_header)
        if session_id is None:
            return self.signed_out
        return await self.context_for_session(session_id)

    async def context_for_session(
        self, session_id: str, *, force_refresh: bool = False, rejected_token: str | None = None
    ) -> AuthContext:
        """The session's context, refreshed when due. ``force_refresh`` refreshes anyway;
        ``rejected_token`` refreshes only if that token is still the session's (an API
        answered 401 to it, and no sibling has replaced it yet)."""
        entry = self._entry(session_id)
        # unasync: async only begin
        if self._local_store:  # a local store answers at once: no coroutine to await
            item = self._store.load(entry.key)
        else:
            item = await self._store.aload(entry.key)
        # unasync: async only end
        # unasync: sync only: item = self._store.load(entry.key)
        ctx = self._fresh_context(entry, item, force_refresh, rejected_token)
        if ctx is not None:
            return ctx
        assert item is not None
        return await self._run(
            self._session_flow(session_id, entry, item, force_refresh, rejected_token)
        )

    async def handle_route(self, route: Route, request: RequestInfo) -> Response:
        """The answer to a request for one of the middleware's own routes."""
        return await self._run(self._route_flow(route, request))

    # Node SDK parity --------------------------------------------------------------------

    async def get_openid_provider_endpoints(self) -> dict[str, str | None]:
        """The provider's endpoints, from its discovery document."""
        return (await self._run(self._discovery_flow())).endpoints()

    async def get_sign_in_url(self, session_id: str, return_to: str = "/", **params: str) -> str:
        """The authorization URL for ``session_id``; ``sign_in`` completes it."""
        return await self._run(self._sign_in_url_flow(session_id, return_to, params))

    async def sign_in(
        self,
        session_id: str,
        code: str,
        state: str,
        session_state: str | None = None,
        *,
        iss: str | None = None,
    ) -> AuthContext:
        """Complete a sign-in started by ``get_sign_in_url`` for the same ``session_id``."""
        return await self._run(self._sign_in_flow(session_id, code, state, session_state, iss))

    async def is_signed_in(self, session_id: str) -> bool:
        """True when the session has a usable access token (refreshing it if due)."""
        try:
            return (await self._run(self._context_flow(session_id))).is_signed_in
        except RefreshUnavailable:
            return True  # signed in; the provider is only unreachable for now

    async def get_access_token(self, session_id: str) -> str:
        """The session's access token, fresh (refreshed single-flight when due)."""
        return (await self._run(self._live_flow(session_id))).require_access_token()

    async def get_id_token(self, session_id: str) -> str:
        """The session's ID token."""
        return (await self._run(self._live_flow(session_id))).require_id_token()

    async def get_decoded_id_token(self, session_id: str) -> dict[str, Any]:
        """The ID token's claims (it was validated when it was received)."""
        return decode_unverified_claims(await self.get_id_token(session_id))

    async def get_user(self, session_id: str) -> dict[str, Any]:
        """The user's claims (``ctx.user``)."""
        return dict((await self._run(self._live_flow(session_id))).user)

    async def refresh_access_token(self, session_id: str) -> str:
        """Refresh now (single-flight) and return the new access token."""
        ctx = await self._run(self._live_flow(session_id, force_refresh=True))
        return ctx.require_access_token()

    async def revoke_access_token(self, session_id: str) -> None:
        """Revoke the session's tokens (RFC 7009) and end it locally."""
        await self._run(self._end_flow(session_id, EndReason.REVOKED))

    async def sign_out(self, session_id: str) -> str:
        """End the session (revoking its tokens) and return the end-session URL."""
        return await self._run(self._end_flow(session_id, EndReason.SIGNED_OUT))

    async def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None:
        """Call the token endpoint as ``config`` says (Node SDK ``exchangeToken``)."""
        return await self._run(self._exchange_flow(config, session_id))

    async def list_user_sessions(self, sub: str) -> list[SessionInfo]:
        """The live sessions of the user ``sub``, oldest first, each named by its tag."""
        return [info for _, info in await self._run(user_sessions(self._env, sub))]

    async def end_user_sessions(
        self, sub: str, *, tag: str | None = None, keep_session_id: str | None = None
    ) -> list[str]:
        """End the user's sessions: all, the one ``tag`` names, or all but the caller's
        (``keep_session_id``: "sign out other devices"). Returns the tags ended."""
        return await self._run(
            end_user_sessions(self._env, sub, tag=tag, keep_session_id=keep_session_id)
        )

    # Typed actions and the token source -------------------------------------------------

    def actions(self, ctx: AuthContext) -> AsyncSessionActions:
        """What ``ctx``'s request can do for its session (exchange, revoke, sign out,
        an ``httpx.Auth``), typed for async code."""
        return AsyncSessionActions(self, ctx.session_id if ctx.is_signed_in else None)

    async def access_token_for(self, session_id: str, rejected: str | None = None) -> str:
        """The token source: the session's access token; with ``rejected``, one other than
        that token (refreshed single-flight unless a sibling already replaced it)."""
        if rejected is None:
            return await self.get_access_token(session_id)
        ctx = await self.context_for_session(session_id, rejected_token=rejected)
        return ctx.require_access_token()

    def _cached_context(self, session_id: str) -> AuthContext | None:
        """``context_for_session``'s answer for a session this client has seen, when its
        store is local (memory, SQLite) and has nothing new for it: the middleware's hot
        path, with no coroutine to create (ASGI) and no calls it does not need. None when
        ``context_for_session`` must be called (a store across the network is loaded once,
        there)."""
        entry = self._entries.get(session_id)
        if entry is None or not self._local_store:
            return None
        return self._fresh_context(entry, self._store.load(entry.key), False, None)

    # unasync: async only begin
    def blocking_token_source(self) -> TokenSource:
        """A ``TokenSource`` for sync code running in a worker thread while this client
        serves an ASGI app (a Django sync view, ``run_in_threadpool``): each call runs on
        the event loop this client last ran on, and the thread waits for the answer."""
        if self._loop is None:
            raise RuntimeError(
                "this AsyncThunderIDClient has not run on an event loop yet: use it "
                "from a request the ASGI middleware has served"
            )
        return BlockingTokenSource(self, self._loop)

    # unasync: async only end
