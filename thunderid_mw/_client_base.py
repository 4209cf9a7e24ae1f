"""What ``ThunderIDClient`` and ``AsyncThunderIDClient`` share: their state (config, keys,
store, provider metadata, the per-session cache) and every operation written once as a
flow. The twins in ``client.py`` only perform effects (blocking or awaited) and keep the
per-request fast path inline."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
from joserfc.jwk import KeySet

from ._dpop import DPoPNonces
from ._http import request_args
from .client_assertion import assertion_signer
from .context import AuthContext
from .core import effects as fx
from .core.config import ThunderIDConfig, TokenExchangeConfig
from .core.cookies import SessionCookieReader
from .core.crypto import Keys
from .core.discovery import ProviderMetadata
from .core.env import FlowEnv, Loaded
from .core.errors import NotSignedIn, RefreshUnavailable
from .core.exchange import exchange_token
from .core.handler import RequestInfo, route_flow
from .core.par import authorization_redirect, code_binding_key
from .core.provider import ProviderCache, key_set_flow, metadata_flow
from .core.records import RecordCodec
from .core.refresh import NOT_A_PROVIDER_FAILURE
from .core.resolve import Resolved, refresh_job, resolve, usable_until
from .core.responses import Response
from .core.routing import Route, Router
from .core.session import EndReason
from .core.signin import (
    SIGN_IN_ENTROPY,
    CallbackParams,
    SignInTransaction,
    authorization_request,
    complete_sign_in,
)
from .core.signout import end_session, sign_out_target
from .core.token_state import RefreshOutcome
from .stores import SQLiteStore, store_from_url
from .stores.base import SessionStore, StoredItem
from .stores.check import check_store

DEFAULT_SQLITE_PATH = "thunderid-sessions.sqlite3"
CACHE_SIZE = 10_000


class Entry:
    """What a client remembers of one session id: its store key (an HMAC, computed once)
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


class ClientBase:
    """State and flows shared by the sync and async clients."""

    def __init__(self, config: ThunderIDConfig):
        self.config = config
        self._keys = Keys.from_secret(config.secret)
        self._codec = RecordCodec(self._keys, config.encrypt_tokens)
        self._store: SessionStore = open_store(config.store)
        check_store(self._store)  # fail at start-up, not at the first sign-in
        self._router = Router(config)
        # private_key_jwt: the key is read now, so a bad one stops start-up.
        self._assertion_signer = assertion_signer(config)
        self._dpop_nonces = DPoPNonces()
        # Provider metadata is fetched on first need (GetMetadata), not at start-up.
        self._env = FlowEnv(config, self._keys, self._codec)
        # Discovery and JWKS, cached per process (core/provider.py).
        self._provider = ProviderCache()
        # session id -> its store key and the context of the version last seen.
        self._entries: dict[str, Entry] = {}
        # store key -> when this process's last refresh of it failed (provider unavailable).
        self._refresh_failed_at: dict[str, float] = {}
        # store keys this process is refreshing in the background right now.
        self._refreshing: set[str] = set()
        self._refreshing_guard = threading.Lock()
        self.signed_out = AuthContext(self)
        # The session id in a Cookie header (the adapters' hot path shares it).
        # (a bound method: called per request, it is cheaper than an instance's __call__)
        self._session_id_in = SessionCookieReader(config.cookie_name).session_id_in

    def actions(self, ctx: AuthContext) -> Any:
        """The typed actions for ``ctx`` (each client narrows the type)."""
        raise NotImplementedError

    def _request_args(self, call: fx.HttpCall) -> dict[str, Any]:
        """httpx arguments for ``call``, with a fresh client assertion when it asks for one
        (``aud``: the issuer; the call's URL came from the metadata, so it is known)."""
        assertion = None
        if call.client_assertion and self._assertion_signer is not None:
            metadata = self._provider.metadata
            assert metadata is not None
            assertion = self._assertion_signer.sign(metadata.issuer)
        args = request_args(call, assertion)
        if call.dpop_key is not None:
            args["headers"]["DPoP"] = self._dpop_nonces.proof(
                call.dpop_key, call.method, call.url, call.dpop_access_token
            )
        return args

    def dpop_proof(self, session_id: str, access_token: str, method: str, url: str) -> str | None:
        """For ``ThunderIDAuth``: a fresh DPoP proof (with ``ath``) for one API call with
        the session's access token, or None when its tokens are not DPoP-bound."""
        entry = self._entries.get(session_id)
        loaded = entry.loaded if entry is not None else None
        tokens = loaded.record.tokens if loaded is not None else None
        if tokens is None or not tokens.is_dpop_bound:
            return None
        key = tokens.dpop_key
        assert key is not None
        return self._dpop_nonces.proof(key, method, url, access_token)

    def dpop_nonce_asked(self, url: str, response: httpx.Response) -> bool:
        """For ``ThunderIDAuth``: the API refused the proof for lacking its nonce."""
        return self._dpop_nonces.retry_with_nonce(url, response)

    def _dpop_retry(self, call: fx.HttpCall, response: httpx.Response) -> bool:
        """True when the provider asked for a DPoP nonce: the call is sent once more."""
        return call.dpop_key is not None and self._dpop_nonces.retry_with_nonce(call.url, response)

    def _session_key(self, session_id: str) -> str:
        return self._keys.store_key_for("s", session_id)

    # The per-session cache ------------------------------------------------------------

    def _entry(self, session_id: str) -> Entry:
        entry = self._entries.get(session_id)
        if entry is None:
            if len(self._entries) >= CACHE_SIZE:
                self._entries.clear()  # bounded: made-up cookies cannot grow it
            entry = self._entries[session_id] = Entry(self._session_key(session_id))
        return entry

    def _fresh_context(
        self,
        entry: Entry,
        item: StoredItem | None,
        force_refresh: bool,
        rejected_token: str | None,
    ) -> AuthContext | None:
        """The answer without any work, when the stored version is the one cached and still
        usable; None when the slow path must look (``_session_flow``)."""
        if item is None:
            return self.signed_out
        if (
            item.version == entry.version
            and time.time() < entry.until
            and not force_refresh
            and rejected_token is None
        ):
            return entry.ctx
        return None

    def _decode(self, session_id: str, entry: Entry, item: StoredItem) -> Entry | None:
        """The entry for ``item``'s version (its record decoded once per stored version),
        or None when the stored data is unreadable."""
        if entry.loaded is not None and entry.version == item.version:
            return entry
        record = self._codec.decode(item.data, entry.key)
        if record is None:
            return None
        return self._adopt(session_id, entry, Loaded(record, item.version))

    def _adopt(self, session_id: str, entry: Entry, loaded: Loaded) -> Entry:
        record = loaded.record
        if record.ended is not None:
            ctx = AuthContext(self, ended_reason=record.ended)
        else:
            tokens = record.tokens
            ctx = AuthContext(
                self,
                session_id=session_id,
                user=record.claims,
                access_token=tokens.access_token,
                id_token=tokens.id_token,
                scopes=tokens.scopes,
                expires_at=tokens.expires_at,
                sign_out_csrf_token=self._keys.csrf_token(session_id),
            )
        until = usable_until(record, self.config)
        adopted = self._entries[session_id] = Entry(entry.key, loaded.version, until, ctx, loaded)
        return adopted

    def _context_from_resolved(
        self, session_id: str, entry: Entry, resolved: Resolved
    ) -> AuthContext:
        if resolved.unavailable is not None:
            retry_after = max(1, math.ceil(self.config.refresh_retry_interval))
            raise RefreshUnavailable(resolved.unavailable, retry_after=retry_after)
        if resolved.loaded is None:
            if resolved.ended is None:
                return self.signed_out
            return AuthContext(self, ended_reason=resolved.ended)
        return self._adopt(session_id, entry, resolved.loaded).ctx  # type: ignore[return-value]

    # Background refresh -----------------------------------------------------------------

    def _retry_not_before(self, key: str) -> float:
        return self._refresh_failed_at.get(key, -math.inf) + self.config.refresh_retry_interval

    def _claim_refresh(self, key: str) -> bool:
        """Whether this process may start a background refresh of ``key`` (not already
        running): claims it, for threads and tasks alike."""
        with self._refreshing_guard:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def _refresh_job_flow(self, key: str, force: bool) -> fx.Flow[None]:
        """The background refresh; remembers a provider failure for ``retry_not_before``."""
        try:
            result = yield from refresh_job(self._env, key, force)
            if (
                result is not None
                and result.outcome is RefreshOutcome.UNAVAILABLE
                and result.detail not in NOT_A_PROVIDER_FAILURE
            ):
                if len(self._refresh_failed_at) >= CACHE_SIZE:
                    self._refresh_failed_at.clear()
                self._refresh_failed_at[key] = yield fx.Now()
        finally:
            self._refreshing.discard(key)

    # Flows ------------------------------------------------------------------------------

    def _session_flow(
        self,
        session_id: str,
        entry: Entry,
        item: StoredItem,
        force_refresh: bool,
        rejected_token: str | None,
    ) -> fx.Flow[AuthContext]:
        """The slow path of a request: decode a new version, end, refresh or touch."""
        current = self._decode(session_id, entry, item)
        if current is None or current.loaded is None or current.ctx is None:
            return self.signed_out
        loaded = current.loaded
        if rejected_token is not None:
            # An API rejected this token: refresh unless a sibling already replaced it.
            force_refresh = loaded.record.tokens.access_token == rejected_token
        if loaded.record.ended is not None or (not force_refresh and time.time() < current.until):
            return current.ctx
        resolved = yield from resolve(
            self._env,
            entry.key,
            loaded,
            force_refresh=force_refresh,
            retry_not_before=self._retry_not_before(entry.key),
        )
        return self._context_from_resolved(session_id, entry, resolved)

    def _context_flow(
        self, session_id: str, *, force_refresh: bool = False, rejected_token: str | None = None
    ) -> fx.Flow[AuthContext]:
        entry = self._entry(session_id)
        item = yield fx.Load(entry.key)
        ctx = self._fresh_context(entry, item, force_refresh, rejected_token)
        if ctx is not None:
            return ctx
        return (
            yield from self._session_flow(session_id, entry, item, force_refresh, rejected_token)
        )

    def _live_flow(self, session_id: str, **options: Any) -> fx.Flow[AuthContext]:
        """The session's context, or ``NotSignedIn`` saying why there is none."""
        ctx = yield from self._context_flow(session_id, **options)
        if not ctx.is_signed_in:
            reason = ctx.ended_reason
            raise NotSignedIn(
                "The user is not signed in"
                + (f" (the session ended: {reason.value})." if reason else "."),
                reason=reason.value if reason else None,
            )
        return ctx

    def _discovery_flow(self) -> fx.Flow[ProviderMetadata]:
        return (yield from metadata_flow(self._provider, self.config))

    def _key_set_flow(self, refresh: bool) -> fx.Flow[KeySet]:
        return (yield from key_set_flow(self._provider, self.config, refresh))

    def _route_flow(self, route: Route, request: RequestInfo) -> fx.Flow[Response]:
        return (yield from route_flow(self._env, route, request))

    def _sign_in_url_flow(
        self, session_id: str, return_to: str, params: Mapping[str, str]
    ) -> fx.Flow[str]:
        """The authorization URL. The sign-in in progress travels sealed inside ``state``,
        bound to ``session_id``: nothing is stored until the user comes back, so this may
        be called for every anonymous page without filling the store (but when the request
        is pushed, RFC 9126, each call is a request to the provider)."""
        metadata: ProviderMetadata = yield fx.GetMetadata()
        now = yield fx.Now()
        entropy = yield fx.RandomBytes(SIGN_IN_ENTROPY)
        seal_nonce = yield fx.RandomBytes(12)
        request, _ = authorization_request(
            self.config,
            return_to=return_to,
            entropy=entropy,
            now=now,
            extra_params=params,
            state_of=lambda tx: tx.seal(self._keys, seal_nonce, bound_to=session_id),
            dpop_key=(yield from code_binding_key(self._env, metadata)),
        )
        return (yield from authorization_redirect(self._env, metadata, request))

    def _sign_in_flow(
        self, session_id: str, code: str, state: str, session_state: str | None, iss: str | None
    ) -> fx.Flow[AuthContext]:
        tx = SignInTransaction.unseal(self._keys, state, bound_to=session_id)
        # The sealed state stands for the transaction's own state (one value, one check).
        params = CallbackParams.from_values(code, tx.state if tx else state, session_state, iss)
        _, loaded = yield from complete_sign_in(self._env, params, tx, session_id=session_id)
        return self._adopt(session_id, self._entry(session_id), loaded).ctx  # type: ignore[return-value]

    def _end_flow(self, session_id: str, reason: EndReason) -> fx.Flow[str]:
        """End the session (locally first, whether or not the provider answers), revoke its
        tokens; the end-session URL to send the browser to."""
        record = yield from end_session(
            self._env, self._session_key(session_id), reason, revoke=True
        )
        return (yield from sign_out_target(self._env, record.tokens.id_token if record else None))

    def _exchange_flow(
        self, config: TokenExchangeConfig, session_id: str | None
    ) -> fx.Flow[dict[str, Any] | None]:
        key = loaded = None
        if session_id is not None:
            key = self._session_key(session_id)
            ctx = yield from self._context_flow(session_id)  # fresh tokens first
            if ctx.is_signed_in:
                loaded = self._entry(session_id).loaded
        return (yield from exchange_token(self._env, config, key, loaded))


def open_store(store: SessionStore | str | None) -> SessionStore:
    """The configured store; a URL is opened (``store_from_url``); None means SQLite."""
    if store is None:
        return SQLiteStore(DEFAULT_SQLITE_PATH)
    if isinstance(store, str):
        return store_from_url(store)
    return store
