"""``ThunderIDClient`` and ``AsyncThunderIDClient``: the Node SDK's client for Python.

Both drive the same sans-IO flows of ``thunderid_mw.core``; they differ only in how they
perform an effect (blocking, or awaited). The fast path of a request — load the session
and use it as it is — is written out in both because it must cost almost nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
import weakref
from typing import Any, TypeVar

import httpx
from joserfc.jwk import KeySet

from ._http import client_options, describe_failure, is_tls_error, request_args
from .context import AuthContext
from .core import effects as fx
from .core.config import ThunderIDConfig, TokenExchangeConfig
from .core.cookies import session_id_from_header
from .core.crypto import Keys
from .core.discovery import ProviderMetadata
from .core.env import FlowEnv, Loaded
from .core.errors import (
    NotSignedIn,
    ProviderError,
    RefreshUnavailable,
    TLSVerificationError,
)
from .core.exchange import exchange_token as exchange_flow
from .core.handler import RequestInfo, route_flow
from .core.id_token import decode_unverified_claims, load_key_set
from .core.records import RecordCodec
from .core.resolve import Resolved, resolve, usable_until
from .core.responses import Response, error_response
from .core.routing import Route, Router
from .core.session import EndReason
from .core.signin import (
    SIGN_IN_ENTROPY,
    CallbackParams,
    SignInTransaction,
    complete_sign_in,
    start_sign_in,
)
from .core.signout import end_session, end_session_url
from .core.tokens import TokenSet, parse_json_body
from .stores import SQLiteStore, store_from_url
from .stores.base import SessionStore, StoredItem

logger = logging.getLogger("thunderid_mw")
T = TypeVar("T")

DEFAULT_SQLITE_PATH = "thunderid-sessions.sqlite3"
CONTEXT_CACHE_SIZE = 10_000
JWKS_MIN_REFETCH_INTERVAL = 30.0
DISCOVERY_RETRY_INTERVAL = 5.0


class _ClientBase:
    """State and pure helpers shared by the sync and async clients."""

    def __init__(self, config: ThunderIDConfig):
        self.config = config
        self.keys = Keys.from_secret(config.secret)
        self.codec = RecordCodec(self.keys, config.encrypt_tokens)
        self.store: SessionStore = _open_store(config.store)
        self.router = Router(config)
        self._metadata: ProviderMetadata | None = None
        self._metadata_error: tuple[float, ProviderError] | None = None
        self._key_set: KeySet | None = None
        self._key_set_at = 0.0
        # session id -> its store key and the context of the version last seen.
        self._entries: dict[str, _Entry] = {}
        # store key -> when a failed refresh may be tried again (this process only).
        self._refresh_failed: dict[str, float] = {}
        self.signed_out = AuthContext(self)  # type: ignore[arg-type]

    # Contexts -------------------------------------------------------------------------

    def _entry(self, session_id: str) -> _Entry:
        entry = self._entries.get(session_id)
        if entry is None:
            if len(self._entries) >= CONTEXT_CACHE_SIZE:
                self._entries.clear()  # bounded: made-up cookies cannot grow it
            entry = self._entries[session_id] = _Entry(self.session_key(session_id))
        return entry

    def _decode(self, session_id: str, entry: _Entry, item: StoredItem) -> _Entry | None:
        """The entry for ``item``'s version (its record decoded once per stored version),
        or None when the stored data is unreadable."""
        if entry.loaded is not None and entry.version == item.version:
            return entry
        record = self.codec.decode(item.data, entry.key)
        if record is None:
            return None
        return self._adopt(session_id, entry, Loaded(record, item.version))

    def _adopt(self, session_id: str, entry: _Entry, loaded: Loaded) -> _Entry:
        record = loaded.record
        if record.ended is not None:
            ctx = AuthContext(self, ended_reason=record.ended)  # type: ignore[arg-type]
        else:
            tokens = record.tokens
            ctx = AuthContext(
                self,  # type: ignore[arg-type]
                session_id=session_id,
                user=record.claims,
                access_token=tokens.access_token,
                id_token=tokens.id_token,
                scopes=tokens.scopes,
                expires_at=tokens.expires_at,
                sign_out_csrf_token=self.keys.csrf_token(session_id),
            )
        until = usable_until(record, self.config)
        adopted = self._entries[session_id] = _Entry(entry.key, loaded.version, until, ctx, loaded)
        return adopted

    def _ended_context(self, reason: EndReason | None) -> AuthContext:
        if reason is None:
            return self.signed_out
        return AuthContext(self, ended_reason=reason)  # type: ignore[arg-type]

    def _retry_not_before(self, key: str) -> float:
        return self._refresh_failed.get(key, 0.0)

    def _context_from_resolved(
        self, session_id: str, entry: _Entry, resolved: Resolved
    ) -> AuthContext:
        if resolved.refresh_failed:
            if len(self._refresh_failed) >= CONTEXT_CACHE_SIZE:
                self._refresh_failed.clear()
            self._refresh_failed[entry.key] = time.time() + self.config.refresh_retry_interval
        if resolved.unavailable is not None:
            retry_after = max(1, math.ceil(self.config.refresh_retry_interval))
            raise RefreshUnavailable(resolved.unavailable, retry_after=retry_after)
        if resolved.loaded is None:
            return self._ended_context(resolved.ended)
        return self._adopt(session_id, entry, resolved.loaded).ctx  # type: ignore[return-value]

    def session_key(self, session_id: str) -> str:
        return self.keys.store_key_for("s", session_id)

    def _transaction_key(self, session_id: str, state: str) -> str:
        return self.keys.store_key_for("t", session_id + "\x00" + state)

    # Provider metadata ----------------------------------------------------------------

    def _parse_discovery(self, status: int, body: bytes) -> ProviderMetadata:
        if status != 200:
            raise ProviderError(
                f"discovery at {self.config.effective_discovery_url} answered HTTP {status}"
            )
        doc = parse_json_body(status, body, "discovery endpoint")
        expected = self.config.issuer or self.config.base_url
        return ProviderMetadata.from_json(doc, expected)

    def _discovery_failed_recently(self) -> None:
        if self._metadata_error is not None:
            at, error = self._metadata_error
            if time.time() - at < DISCOVERY_RETRY_INTERVAL:
                raise error

    def _transport_error(self, exc: Exception, url: str) -> ProviderError:
        message = describe_failure(exc, url)
        return TLSVerificationError(message) if is_tls_error(exc) else ProviderError(message)

    def _env(self, metadata: ProviderMetadata) -> FlowEnv:
        return FlowEnv(self.config, self.keys, self.codec, metadata)

    def _key_set_is_current(self, refresh: bool) -> bool:
        if self._key_set is None:
            return False
        if not refresh:
            return True
        # Refetch on an unknown kid, but not more than every so often (unknown kids are cheap
        # for an attacker to make up).
        return time.time() - self._key_set_at < JWKS_MIN_REFETCH_INTERVAL

    def _sign_out_location(self, metadata: ProviderMetadata, id_token: str | None) -> str:
        return end_session_url(self._env(metadata), id_token)

    def _token_set(self, loaded: Loaded) -> TokenSet:
        return loaded.record.tokens


class _Entry:
    """What the client remembers of one session id: its store key (an HMAC, computed once)
    and the context of the stored version it saw last, usable until ``until``. Entries are
    replaced, never changed, so a thread always reads a consistent one."""

    __slots__ = ("ctx", "key", "loaded", "until", "version")

    def __init__(
        self,
        key: str,
        version: int = -1,
        until: float = 0.0,
        ctx: AuthContext | None = None,
        loaded: Loaded | None = None,
    ):
        self.key = key
        self.version = version
        self.until = until
        self.ctx = ctx
        self.loaded = loaded


def _open_store(store: SessionStore | str | None) -> SessionStore:
    """The configured store; a URL is opened (``store_from_url``); None means SQLite."""
    if store is None:
        return SQLiteStore(DEFAULT_SQLITE_PATH)
    if isinstance(store, str):
        return store_from_url(store)
    return store


def _log(effect: fx.Log) -> None:
    logger.log(effect.level, effect.message)


class ThunderIDClient(_ClientBase):
    """Blocking client; every method takes the ``session_id`` it acts for."""

    def __init__(self, config: ThunderIDConfig, *, http: httpx.Client | None = None):
        super().__init__(config)
        self._http = http or httpx.Client(**client_options(config))
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        self._held: dict[tuple[str, str], threading.Lock] = {}
        self._metadata_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # Running flows --------------------------------------------------------------------

    def _run(self, flow: fx.Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = self._perform(effect)
            except BaseException as exc:
                # Into the flow, so its finally blocks run (a lock is released even on
                # cancellation); the flow re-raises what it does not handle.
                error = exc

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
                return self._get_key_set(refresh)
            case fx.Log():
                _log(effect)
                return None
        raise TypeError(f"unknown effect {effect!r}")

    def _http_call(self, call: fx.HttpCall) -> fx.HttpResult | fx.HttpFailure:
        try:
            response = self._http.request(call.method, call.url, **request_args(call))
        except httpx.HTTPError as exc:
            return fx.HttpFailure(describe_failure(exc, call.url))
        return fx.HttpResult(response.status_code, response.content)

    def _acquire(self, effect: fx.AcquireLock) -> bool:
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

    # Provider -------------------------------------------------------------------------

    def _get_metadata(self) -> ProviderMetadata:
        if self._metadata is not None:
            return self._metadata
        with self._metadata_lock:
            if self._metadata is None:
                self._discovery_failed_recently()
                url = self.config.effective_discovery_url
                try:
                    response = self._http.get(url)
                    self._metadata = self._parse_discovery(response.status_code, response.content)
                except httpx.HTTPError as exc:
                    error = self._transport_error(exc, url)
                    self._metadata_error = (time.time(), error)
                    raise error from exc
                except ProviderError as exc:
                    self._metadata_error = (time.time(), exc)
                    raise
        return self._metadata

    def _get_key_set(self, refresh: bool) -> KeySet:
        if self._key_set_is_current(refresh):
            assert self._key_set is not None
            return self._key_set
        url = self._get_metadata().jwks_uri
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from exc
        if response.status_code != 200:
            raise ProviderError(f"the JWKS at {url} answered HTTP {response.status_code}")
        try:
            self._key_set = load_key_set(response.json())
        except ValueError as exc:
            raise ProviderError(f"the JWKS at {url} is not JSON") from exc
        self._key_set_at = time.time()
        return self._key_set

    def _flow_env(self) -> FlowEnv:
        return self._env(self._get_metadata())

    # Middleware entry points ------------------------------------------------------------

    def context_for_cookie(self, cookie_header: str | None) -> AuthContext:
        """The request's context from its ``Cookie`` header (the per-request hot path)."""
        session_id = session_id_from_header(cookie_header, self.config.session_cookie.name)
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
        if item is None:
            return self.signed_out
        if (
            item.version == entry.version
            and time.time() < entry.until
            and not force_refresh
            and rejected_token is None
        ):
            return entry.ctx  # type: ignore[return-value]  # the hot path
        current = self._decode(session_id, entry, item)
        if current is None or current.loaded is None:
            return self.signed_out
        loaded = current.loaded
        if rejected_token is not None:
            force_refresh = loaded.record.tokens.access_token == rejected_token
        if loaded.record.ended is not None or (not force_refresh and time.time() < current.until):
            return current.ctx  # type: ignore[return-value]
        resolved = self._run(
            resolve(
                self._flow_env(),
                entry.key,
                loaded,
                force_refresh=force_refresh,
                retry_not_before=self._retry_not_before(entry.key),
            )
        )
        return self._context_from_resolved(session_id, entry, resolved)

    def handle_route(self, route: Route, request: RequestInfo) -> Response:
        try:
            env = self._flow_env()
        except ProviderError as exc:
            return _provider_down(request, exc)
        return self._run(route_flow(env, route, request))

    # Node SDK parity --------------------------------------------------------------------

    def get_openid_provider_endpoints(self) -> dict[str, str | None]:
        return self._get_metadata().endpoints()

    def get_sign_in_url(self, session_id: str, return_to: str = "/", **params: str) -> str:
        """The authorization URL for ``session_id``; the sign-in in progress is kept in the
        store until ``sign_in`` completes it."""
        env = self._flow_env()
        now = time.time()
        url, tx = start_sign_in(
            self.config,
            env.metadata,
            return_to=return_to,
            entropy=os.urandom(SIGN_IN_ENTROPY),
            now=now,
            extra_params=params,
        )
        sealed = tx.seal(self.keys, os.urandom(12)).encode()
        self.store.save(
            self._transaction_key(session_id, tx.state),
            sealed,
            expires_at=now + self.config.sign_in_timeout,
            expected_version=None,
        )
        return url

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
        tx_key = self._transaction_key(session_id, state)
        item = self.store.load(tx_key)
        tx = None if item is None else SignInTransaction.unseal(self.keys, item.data.decode())
        if item is not None:
            self.store.delete(tx_key)
        params = CallbackParams.from_values(code, state, session_state, iss)
        env = self._flow_env()
        _, loaded = self._run(complete_sign_in(env, params, tx, session_id=session_id))
        return self._adopt(session_id, self._entry(session_id), loaded).ctx  # type: ignore[return-value]

    def is_signed_in(self, session_id: str) -> bool:
        """True when the session has a usable access token (refreshing it if due)."""
        try:
            return self.context_for_session(session_id).is_signed_in
        except RefreshUnavailable:
            return True  # signed in, the provider is only unreachable for now

    def get_access_token(self, session_id: str) -> str:
        return self._live(session_id).require_access_token()

    def get_id_token(self, session_id: str) -> str:
        token = self._live(session_id).id_token
        if token is None:
            raise NotSignedIn("the session has no ID token")
        return token

    def get_decoded_id_token(self, session_id: str) -> dict[str, Any]:
        return decode_unverified_claims(self.get_id_token(session_id))

    def get_user(self, session_id: str) -> dict[str, Any]:
        return dict(self._live(session_id).user)

    def refresh_access_token(self, session_id: str) -> str:
        """Refresh now (single-flight) and return the new access token."""
        return self.context_for_session(session_id, force_refresh=True).require_access_token()

    def revoke_access_token(self, session_id: str) -> None:
        """Revoke the session's tokens (RFC 7009) and end it locally."""
        self._run(
            end_session(
                self._flow_env(), self.session_key(session_id), EndReason.REVOKED, revoke=True
            )
        )

    def sign_out(self, session_id: str) -> str:
        """End the session (revoking its tokens) and return the end-session URL."""
        env = self._flow_env()
        record = self._run(
            end_session(env, self.session_key(session_id), EndReason.SIGNED_OUT, revoke=True)
        )
        return end_session_url(env, record.tokens.id_token if record else None)

    def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None:
        """Call the token endpoint as ``config`` says (Node SDK ``exchangeToken``)."""
        env = self._flow_env()
        key = loaded = None
        if session_id is not None:
            key = self.session_key(session_id)
            if self.context_for_session(session_id).is_signed_in:  # fresh tokens first
                loaded = self._entry(session_id).loaded
        return self._run(exchange_flow(env, config, key, loaded))

    def _live(self, session_id: str) -> AuthContext:
        ctx = self.context_for_session(session_id)
        if not ctx.is_signed_in:
            reason = ctx.ended_reason
            raise NotSignedIn(
                "The user is not signed in"
                + (f" (the session ended: {reason.value})." if reason else "."),
                reason=reason.value if reason else None,
            )
        return ctx


class AsyncThunderIDClient(_ClientBase):
    """The awaitable twin of ``ThunderIDClient`` (same method names)."""

    def __init__(self, config: ThunderIDConfig, *, http: httpx.AsyncClient | None = None):
        super().__init__(config)
        self._http = http or httpx.AsyncClient(**client_options(config))
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._held: dict[tuple[str, str], asyncio.Lock] = {}
        self._metadata_lock: asyncio.Lock | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, flow: fx.Flow[T]) -> T:
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
                # Into the flow, so its finally blocks run (a lock is released even on
                # cancellation); the flow re-raises what it does not handle.
                error = exc

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
                return await self._get_key_set(refresh)
            case fx.Log():
                _log(effect)
                return None
        raise TypeError(f"unknown effect {effect!r}")

    async def _http_call(self, call: fx.HttpCall) -> fx.HttpResult | fx.HttpFailure:
        try:
            response = await self._http.request(call.method, call.url, **request_args(call))
        except httpx.HTTPError as exc:
            return fx.HttpFailure(describe_failure(exc, call.url))
        return fx.HttpResult(response.status_code, response.content)

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

    async def _get_metadata(self) -> ProviderMetadata:
        if self._metadata is not None:
            return self._metadata
        if self._metadata_lock is None:
            self._metadata_lock = asyncio.Lock()
        async with self._metadata_lock:
            if self._metadata is None:
                self._discovery_failed_recently()
                url = self.config.effective_discovery_url
                try:
                    response = await self._http.get(url)
                    self._metadata = self._parse_discovery(response.status_code, response.content)
                except httpx.HTTPError as exc:
                    error = self._transport_error(exc, url)
                    self._metadata_error = (time.time(), error)
                    raise error from exc
                except ProviderError as exc:
                    self._metadata_error = (time.time(), exc)
                    raise
        return self._metadata

    async def _get_key_set(self, refresh: bool) -> KeySet:
        if self._key_set_is_current(refresh):
            assert self._key_set is not None
            return self._key_set
        url = (await self._get_metadata()).jwks_uri
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from exc
        if response.status_code != 200:
            raise ProviderError(f"the JWKS at {url} answered HTTP {response.status_code}")
        try:
            self._key_set = load_key_set(response.json())
        except ValueError as exc:
            raise ProviderError(f"the JWKS at {url} is not JSON") from exc
        self._key_set_at = time.time()
        return self._key_set

    async def _flow_env(self) -> FlowEnv:
        return self._env(await self._get_metadata())

    async def context_for_cookie(self, cookie_header: str | None) -> AuthContext:
        session_id = session_id_from_header(cookie_header, self.config.session_cookie.name)
        if session_id is None:
            return self.signed_out
        return await self.context_for_session(session_id)

    async def context_for_session(
        self, session_id: str, *, force_refresh: bool = False, rejected_token: str | None = None
    ) -> AuthContext:
        entry = self._entry(session_id)
        item = await self.store.aload(entry.key)
        if item is None:
            return self.signed_out
        if (
            item.version == entry.version
            and time.time() < entry.until
            and not force_refresh
            and rejected_token is None
        ):
            return entry.ctx  # type: ignore[return-value]  # the hot path
        current = self._decode(session_id, entry, item)
        if current is None or current.loaded is None:
            return self.signed_out
        loaded = current.loaded
        if rejected_token is not None:
            force_refresh = loaded.record.tokens.access_token == rejected_token
        if loaded.record.ended is not None or (not force_refresh and time.time() < current.until):
            return current.ctx  # type: ignore[return-value]
        env = await self._flow_env()
        resolved = await self._run(
            resolve(
                env,
                entry.key,
                loaded,
                force_refresh=force_refresh,
                retry_not_before=self._retry_not_before(entry.key),
            )
        )
        return self._context_from_resolved(session_id, entry, resolved)

    async def handle_route(self, route: Route, request: RequestInfo) -> Response:
        try:
            env = await self._flow_env()
        except ProviderError as exc:
            return _provider_down(request, exc)
        return await self._run(route_flow(env, route, request))

    async def get_openid_provider_endpoints(self) -> dict[str, str | None]:
        return (await self._get_metadata()).endpoints()

    async def get_sign_in_url(self, session_id: str, return_to: str = "/", **params: str) -> str:
        env = await self._flow_env()
        now = time.time()
        url, tx = start_sign_in(
            self.config,
            env.metadata,
            return_to=return_to,
            entropy=os.urandom(SIGN_IN_ENTROPY),
            now=now,
            extra_params=params,
        )
        sealed = tx.seal(self.keys, os.urandom(12)).encode()
        await self.store.asave(
            self._transaction_key(session_id, tx.state),
            sealed,
            expires_at=now + self.config.sign_in_timeout,
            expected_version=None,
        )
        return url

    async def sign_in(
        self,
        session_id: str,
        code: str,
        state: str,
        session_state: str | None = None,
        *,
        iss: str | None = None,
    ) -> AuthContext:
        tx_key = self._transaction_key(session_id, state)
        item = await self.store.aload(tx_key)
        tx = None if item is None else SignInTransaction.unseal(self.keys, item.data.decode())
        if item is not None:
            await self.store.adelete(tx_key)
        params = CallbackParams.from_values(code, state, session_state, iss)
        env = await self._flow_env()
        _, loaded = await self._run(complete_sign_in(env, params, tx, session_id=session_id))
        return self._adopt(session_id, self._entry(session_id), loaded).ctx  # type: ignore[return-value]

    async def is_signed_in(self, session_id: str) -> bool:
        try:
            return (await self.context_for_session(session_id)).is_signed_in
        except RefreshUnavailable:
            return True

    async def get_access_token(self, session_id: str) -> str:
        return (await self._live(session_id)).require_access_token()

    async def get_id_token(self, session_id: str) -> str:
        token = (await self._live(session_id)).id_token
        if token is None:
            raise NotSignedIn("the session has no ID token")
        return token

    async def get_decoded_id_token(self, session_id: str) -> dict[str, Any]:
        return decode_unverified_claims(await self.get_id_token(session_id))

    async def get_user(self, session_id: str) -> dict[str, Any]:
        return dict((await self._live(session_id)).user)

    async def refresh_access_token(self, session_id: str) -> str:
        ctx = await self.context_for_session(session_id, force_refresh=True)
        return ctx.require_access_token()

    async def revoke_access_token(self, session_id: str) -> None:
        env = await self._flow_env()
        await self._run(
            end_session(env, self.session_key(session_id), EndReason.REVOKED, revoke=True)
        )

    async def sign_out(self, session_id: str) -> str:
        env = await self._flow_env()
        record = await self._run(
            end_session(env, self.session_key(session_id), EndReason.SIGNED_OUT, revoke=True)
        )
        return end_session_url(env, record.tokens.id_token if record else None)

    async def exchange_token(
        self, config: TokenExchangeConfig, session_id: str | None = None
    ) -> dict[str, Any] | None:
        env = await self._flow_env()
        key = loaded = None
        if session_id is not None:
            key = self.session_key(session_id)
            if (await self.context_for_session(session_id)).is_signed_in:
                loaded = self._entry(session_id).loaded
        return await self._run(exchange_flow(env, config, key, loaded))

    async def _live(self, session_id: str) -> AuthContext:
        ctx = await self.context_for_session(session_id)
        if not ctx.is_signed_in:
            reason = ctx.ended_reason
            raise NotSignedIn(
                "The user is not signed in"
                + (f" (the session ended: {reason.value})." if reason else "."),
                reason=reason.value if reason else None,
            )
        return ctx


def _provider_down(request: RequestInfo, exc: ProviderError) -> Response:
    logger.error("identity provider unavailable: %s", exc)
    if isinstance(exc, TLSVerificationError):
        # An operator's problem with a known fix: say which setting (no secrets in it).
        return error_response(
            502,
            "provider_tls_untrusted",
            "The identity provider's TLS certificate is not trusted. Set ca_bundle "
            "(THUNDERID_CA_BUNDLE) to its CA certificate file.",
            api=request.is_api,
        )
    return error_response(
        502,
        "provider_unavailable",
        "The identity provider is unavailable, so sign-in cannot proceed. Please try again later.",
        api=request.is_api,
    )


__all__ = ["AsyncThunderIDClient", "ThunderIDClient"]
