"""``ThunderIDClient`` and ``AsyncThunderIDClient``: the Node SDK's client for Python.

Both run the same flows (``_client_base.ClientBase`` and ``thunderid_mw.core``); they
differ only in how they perform an effect — blocking, or awaited — and each keeps the
per-request fast path inline because it must cost almost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from logging import ERROR, WARNING
from typing import Any, TypeVar

import httpx

from ._client_base import ClientBase
from ._http import (
    client_options,
    date_header,
    describe_failure,
    is_tls_error,
    may_have_reached_provider,
    request_args,
)
from ._logging import emit, log_event
from .actions import AsyncSessionActions, SessionActions
from .context import AuthContext
from .core import effects as fx
from .core.config import ThunderIDConfig, TokenExchangeConfig
from .core.cookies import session_id_from_header
from .core.errors import RefreshUnavailable, ThunderIDError
from .core.events import LOGGER_NAME, REFRESH_LEASE_LOST, STORE_UNAVAILABLE
from .core.handler import RequestInfo
from .core.id_token import decode_unverified_claims
from .core.inventory import SessionInfo, end_user_sessions, user_sessions
from .core.responses import Response
from .core.routing import Route
from .core.session import EndReason
from .token_source import BlockingTokenSource, TokenSource

T = TypeVar("T")


def _failure(exc: httpx.HTTPError, url: str) -> fx.HttpFailure:
    return fx.HttpFailure(
        describe_failure(exc, url), tls=is_tls_error(exc), sent=may_have_reached_provider(exc)
    )


def _result(response: httpx.Response) -> fx.HttpResult:
    return fx.HttpResult(response.status_code, response.content, date_header(response))


class ThunderIDClient(ClientBase):
    """Blocking client; every method takes the ``session_id`` it acts for."""

    def __init__(self, config: ThunderIDConfig, *, http: httpx.Client | None = None):
        super().__init__(config)
        self._http = http or httpx.Client(**client_options(config))
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        self._held: dict[tuple[str, str], threading.Lock] = {}
        # One fetch of discovery / JWKS at a time: concurrent first requests share it.
        self._provider_lock = threading.Lock()
        self._refreshing_guard = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # Performing effects -----------------------------------------------------------------

    def _run(self, flow: fx.Flow[T]) -> T:
        return fx.drive(flow, self._perform)

    def _perform(self, effect: fx.Effect) -> Any:
        match effect:
            case fx.Load(key):
                return self.store.load(key)
            case fx.Save(key, data, expires_at, expected):
                return self.store.save(key, data, expires_at=expires_at, expected_version=expected)
            case fx.Delete(key):
                return self.store.delete(key)
            case fx.Now():
                return time.time()
            case fx.RandomBytes(size):
                return os.urandom(size)
            case fx.HttpCall():
                return self._http_call(effect)
            case fx.AcquireLock():
                return self._acquire(effect)
            case fx.ReleaseLock(name, owner):
                return self._release(name, owner)
            case fx.Sleep(seconds):
                time.sleep(seconds)
                return None
            case fx.GetKeySet(refresh):
                with self._provider_lock:
                    return self._run(self._key_set_flow(refresh))
            case fx.GetMetadata():
                if self.provider.metadata is not None:
                    return self.provider.metadata
                with self._provider_lock:
                    return self._run(self._discovery_flow())
            case fx.Log():
                emit(effect)
                return None
            case fx.StartRefresh(key, force):
                return self._start_refresh(key, force)
            case fx.RefreshFailedAt(key):
                return self._refresh_failed_at.get(key, 0.0)
        raise TypeError(f"unknown effect {effect!r}")

    def _http_call(self, call: fx.HttpCall) -> fx.HttpResult | fx.HttpFailure:
        stop = self._keep_lease_alive(call.keep_lease) if call.keep_lease else None
        try:
            response = self._http.request(call.method, call.url, **request_args(call))
        except httpx.HTTPError as exc:
            return _failure(exc, call.url)
        finally:
            if stop is not None:
                stop.set()
        return _result(response)

    def _keep_lease_alive(self, hold: fx.LeaseHold) -> threading.Event:
        """Renew ``hold`` every third of its length until the returned event is set."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(hold.lease / 3):
                try:
                    if not self.store.acquire_lock(hold.name, hold.owner, hold.lease):
                        log_event(ERROR, REFRESH_LEASE_LOST, "the refresh lease was taken over")
                        return
                except ThunderIDError as exc:
                    log_event(WARNING, STORE_UNAVAILABLE, f"lease renewal failed: {exc}")

        threading.Thread(target=renew, name="thunderid-lease", daemon=True).start()
        return stop

    def _start_refresh(self, key: str, force: bool) -> bool:
        """Run the session's refresh in a background thread, once per process."""
        with self._refreshing_guard:
            if not self._claim_refresh(key):
                return False

        def job() -> None:
            try:
                self._run(self._refresh_job_flow(key, force))
            except Exception:  # a background thread has nobody to raise to
                logging.getLogger(LOGGER_NAME).exception("the background refresh raised")

        threading.Thread(target=job, name="thunderid-refresh", daemon=True).start()
        return True

    def _acquire(self, effect: fx.AcquireLock) -> bool:
        """The in-process lock first (threads queue there, not on the store), then the
        store's lease."""
        with self._locks_guard:
            local = self._locks.get(effect.name)
            if local is None:
                local = self._locks[effect.name] = threading.Lock()
        if not local.acquire(timeout=max(effect.wait, 0.0)):
            return False
        try:
            taken = self.store.acquire_lock(effect.name, effect.owner, effect.lease)
        except BaseException:
            local.release()
            raise
        if not taken:
            local.release()
            return False
        self._held[(effect.name, effect.owner)] = local
        return True

    def _release(self, name: str, owner: str) -> bool:
        local = self._held.pop((name, owner), None)
        try:
            return self.store.release_lock(name, owner)
        finally:
            if local is not None:
                local.release()

    # Middleware entry points ------------------------------------------------------------

    def context_for_cookie(self, cookie_header: str | None) -> AuthContext:
        """The request's context from its ``Cookie`` header (the per-request hot path)."""
        session_id = session_id_from_header(cookie_header, self.config.cookie_name)
        if session_id is None:
            return self.signed_out
        return self.context_for_session(session_id)

    def context_for_session(
        self, session_id: str, *, force_refresh: bool = False, rejected_token: str | None = None
    ) -> AuthContext:
        """The session's context, refreshed when due. ``force_refresh`` refreshes anyway;
        ``rejected_token`` refreshes only if that token is still the session's (an API
        answered 401 to it, and no sibling has replaced it yet)."""
        entry = self._entry(session_id)
        item = self.store.load(entry.key)
        ctx = self._fresh_context(entry, item, force_refresh, rejected_token)
        if ctx is not None:
            return ctx
        assert item is not None
        return self._run(self._session_flow(session_id, entry, item, force_refresh, rejected_token))

    def handle_route(self, route: Route, request: RequestInfo) -> Response:
        return self._run(self._route_flow(route, request))

    # Node SDK parity --------------------------------------------------------------------

    def get_openid_provider_endpoints(self) -> dict[str, str | None]:
        return self._run(self._discovery_flow()).endpoints()

    def get_sign_in_url(self, session_id: str, return_to: str = "/", **params: str) -> str:
        """The authorization URL for ``session_id``; ``sign_in`` completes it."""
        return self._run(self._sign_in_url_flow(session_id, return_to, params))

    def sign_in(
        self,
        session_id: str,
        code: str,
        state: str,
        session_state: str | None = None,
        *,
        iss: str | None = None,
    ) -> AuthContext:
        """Complete a sign-in started by ``get_sign_in_url`` for the same ``session_id``."""
        return self._run(self._sign_in_flow(session_id, code, state, session_state, iss))

    def is_signed_in(self, session_id: str) -> bool:
        """True when the session has a usable access token (refreshing it if due)."""
        try:
            return self._run(self._context_flow(session_id)).is_signed_in
        except RefreshUnavailable:
            return True  # signed in; the provider is only unreachable for now

    def get_access_token(self, session_id: str) -> str:
        return self._run(self._live_flow(session_id)).require_access_token()

    def get_id_token(self, session_id: str) -> str:
        return self._run(self._live_flow(session_id)).require_id_token()

    def get_decoded_id_token(self, session_id: str) -> dict[str, Any]:
        return decode_unverified_claims(self.get_id_token(session_id))

    def get_user(self, session_id: str) -> dict[str, Any]:
        return dict(self._run(self._live_flow(session_id)).user)

    def refresh_access_token(self, session_id: str) -> str:
        """Refresh now (single-flight) and return the new access token."""
        ctx = self._run(self._live_flow(session_id, force_refresh=True))
        return ctx.require_access_token()

    def revoke_access_token(self, session_id: str) -> None:
        """Revoke the session's tokens (RFC 7009) and end it locally."""
        self._run(self._end_flow(session_id, EndReason.REVOKED))

    def sign_out(self, session_id: str) -> str:
        """End the session (revoking its tokens) and return the end-session URL."""
        return self._run(self._end_flow(session_id, EndReason.SIGNED_OUT))

    def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None:
        """Call the token endpoint as ``config`` says (Node SDK ``exchangeToken``)."""
        return self._run(self._exchange_flow(config, session_id))

    def list_user_sessions(self, sub: str) -> list[SessionInfo]:
        """The live sessions of the user ``sub``, oldest first, each named by its tag."""
        return [info for _, info in self._run(user_sessions(self.env, sub))]

    def end_user_sessions(
        self, sub: str, *, tag: str | None = None, keep_session_id: str | None = None
    ) -> list[str]:
        """End the user's sessions: all, the one ``tag`` names, or all but the caller's
        (``keep_session_id``: "sign out other devices"). Returns the tags ended."""
        return self._run(end_user_sessions(self.env, sub, tag=tag, keep_session_id=keep_session_id))

    # Typed actions and the token source -------------------------------------------------

    def actions(self, ctx: AuthContext) -> SessionActions:
        """What ``ctx``'s request can do for its session (exchange, revoke, sign out,
        an ``httpx.Auth``), typed for sync code."""
        return SessionActions(self, ctx.session_id if ctx.is_signed_in else None)

    def access_token_for(self, session_id: str, rejected: str | None = None) -> str:
        """``TokenSource``: the session's access token; with ``rejected``, one other than
        that token (refreshed single-flight unless a sibling already replaced it)."""
        if rejected is None:
            return self.get_access_token(session_id)
        ctx = self.context_for_session(session_id, rejected_token=rejected)
        return ctx.require_access_token()


class AsyncThunderIDClient(ClientBase):
    """The awaitable twin of ``ThunderIDClient`` (same method names)."""

    def __init__(self, config: ThunderIDConfig, *, http: httpx.AsyncClient | None = None):
        super().__init__(config)
        self._http = http or httpx.AsyncClient(**client_options(config))
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._held: dict[tuple[str, str], asyncio.Lock] = {}
        self._provider_lock = asyncio.Lock()  # see ThunderIDClient
        # The loop this client last ran a flow on (for blocking_token_source).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # background refreshes, kept alive

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, flow: fx.Flow[T]) -> T:
        # Every session reaches a process through a flow before its fast path, so the
        # loop is known here, off the per-request path (for blocking_token_source).
        self._loop = asyncio.get_running_loop()
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = await self._perform(effect)
            except BaseException as exc:
                error = exc  # see ThunderIDClient._run

    async def _perform(self, effect: fx.Effect) -> Any:
        match effect:
            case fx.Load(key):
                return await self.store.aload(key)
            case fx.Save(key, data, expires_at, expected):
                return await self.store.asave(
                    key, data, expires_at=expires_at, expected_version=expected
                )
            case fx.Delete(key):
                return await self.store.adelete(key)
            case fx.Now():
                return time.time()
            case fx.RandomBytes(size):
                return os.urandom(size)
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
                if self.provider.metadata is not None:
                    return self.provider.metadata
                async with self._provider_lock:
                    return await self._run(self._discovery_flow())
            case fx.Log():
                emit(effect)
                return None
            case fx.StartRefresh(key, force):
                return self._start_refresh(key, force)
            case fx.RefreshFailedAt(key):
                return self._refresh_failed_at.get(key, 0.0)
        raise TypeError(f"unknown effect {effect!r}")

    async def _http_call(self, call: fx.HttpCall) -> fx.HttpResult | fx.HttpFailure:
        renewal = (
            asyncio.create_task(self._keep_lease_alive(call.keep_lease))
            if call.keep_lease
            else None
        )
        try:
            response = await self._http.request(call.method, call.url, **request_args(call))
        except httpx.HTTPError as exc:
            return _failure(exc, call.url)
        finally:
            if renewal is not None:
                renewal.cancel()
        return _result(response)

    async def _keep_lease_alive(self, hold: fx.LeaseHold) -> None:
        while True:
            await asyncio.sleep(hold.lease / 3)
            try:
                if not await self.store.aacquire_lock(hold.name, hold.owner, hold.lease):
                    log_event(ERROR, REFRESH_LEASE_LOST, "the refresh lease was taken over")
                    return
            except ThunderIDError as exc:
                log_event(WARNING, STORE_UNAVAILABLE, f"lease renewal failed: {exc}")

    def _start_refresh(self, key: str, force: bool) -> bool:
        """Run the session's refresh as a background task, once per process."""
        if not self._claim_refresh(key):
            return False
        task = asyncio.get_running_loop().create_task(self._background(key, force))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _background(self, key: str, force: bool) -> None:
        try:
            await self._run(self._refresh_job_flow(key, force))
        except Exception:
            logging.getLogger(LOGGER_NAME).exception("the background refresh raised")

    async def _acquire(self, effect: fx.AcquireLock) -> bool:
        local = self._locks.get(effect.name)
        if local is None:
            local = self._locks[effect.name] = asyncio.Lock()
        try:
            await asyncio.wait_for(local.acquire(), timeout=max(effect.wait, 0.001))
        except TimeoutError:
            return False
        try:
            taken = await self.store.aacquire_lock(effect.name, effect.owner, effect.lease)
        except BaseException:
            local.release()
            raise
        if not taken:
            local.release()
            return False
        self._held[(effect.name, effect.owner)] = local
        return True

    async def _release(self, name: str, owner: str) -> bool:
        local = self._held.pop((name, owner), None)
        try:
            return await self.store.arelease_lock(name, owner)
        finally:
            if local is not None:
                local.release()

    async def context_for_cookie(self, cookie_header: str | None) -> AuthContext:
        session_id = session_id_from_header(cookie_header, self.config.cookie_name)
        if session_id is None:
            return self.signed_out
        return await self.context_for_session(session_id)

    async def context_for_session(
        self, session_id: str, *, force_refresh: bool = False, rejected_token: str | None = None
    ) -> AuthContext:
        entry = self._entry(session_id)
        item = await self.store.aload(entry.key)
        ctx = self._fresh_context(entry, item, force_refresh, rejected_token)
        if ctx is not None:
            return ctx
        assert item is not None
        return await self._run(
            self._session_flow(session_id, entry, item, force_refresh, rejected_token)
        )

    async def handle_route(self, route: Route, request: RequestInfo) -> Response:
        return await self._run(self._route_flow(route, request))

    async def get_openid_provider_endpoints(self) -> dict[str, str | None]:
        return (await self._run(self._discovery_flow())).endpoints()

    async def get_sign_in_url(self, session_id: str, return_to: str = "/", **params: str) -> str:
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
        return await self._run(self._sign_in_flow(session_id, code, state, session_state, iss))

    async def is_signed_in(self, session_id: str) -> bool:
        try:
            return (await self._run(self._context_flow(session_id))).is_signed_in
        except RefreshUnavailable:
            return True

    async def get_access_token(self, session_id: str) -> str:
        return (await self._run(self._live_flow(session_id))).require_access_token()

    async def get_id_token(self, session_id: str) -> str:
        return (await self._run(self._live_flow(session_id))).require_id_token()

    async def get_decoded_id_token(self, session_id: str) -> dict[str, Any]:
        return decode_unverified_claims(await self.get_id_token(session_id))

    async def get_user(self, session_id: str) -> dict[str, Any]:
        return dict((await self._run(self._live_flow(session_id))).user)

    async def refresh_access_token(self, session_id: str) -> str:
        ctx = await self._run(self._live_flow(session_id, force_refresh=True))
        return ctx.require_access_token()

    async def revoke_access_token(self, session_id: str) -> None:
        await self._run(self._end_flow(session_id, EndReason.REVOKED))

    async def sign_out(self, session_id: str) -> str:
        return await self._run(self._end_flow(session_id, EndReason.SIGNED_OUT))

    async def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None:
        return await self._run(self._exchange_flow(config, session_id))

    async def list_user_sessions(self, sub: str) -> list[SessionInfo]:
        return [info for _, info in await self._run(user_sessions(self.env, sub))]

    async def end_user_sessions(
        self, sub: str, *, tag: str | None = None, keep_session_id: str | None = None
    ) -> list[str]:
        return await self._run(
            end_user_sessions(self.env, sub, tag=tag, keep_session_id=keep_session_id)
        )

    # Typed actions and the token sources ------------------------------------------------

    def actions(self, ctx: AuthContext) -> AsyncSessionActions:
        """What ``ctx``'s request can do for its session, typed for async code."""
        return AsyncSessionActions(self, ctx.session_id if ctx.is_signed_in else None)

    async def access_token_for(self, session_id: str, rejected: str | None = None) -> str:
        """``AsyncTokenSource``: see ``ThunderIDClient.access_token_for``."""
        if rejected is None:
            return await self.get_access_token(session_id)
        ctx = await self.context_for_session(session_id, rejected_token=rejected)
        return ctx.require_access_token()

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


__all__ = ["AsyncThunderIDClient", "ThunderIDClient"]
