"""A scripted driver for the sans-IO core: runs a flow generator against an in-memory world.

``World`` performs every effect of ``thunderid_mw.core.effects`` without IO:

* a dict store with versions, compare-and-set and leases (the rules of ``stores/base.py``);
* a fake clock (``Now`` reads it, ``Sleep`` advances it);
* deterministic ``RandomBytes`` (distinct on every call);
* a fake HTTP responder per URL that records every call;
* ``GetKeySet`` backed by joserfc key sets that the test can rotate;
* ``Log`` collected.

``World.run`` is ``ThunderIDClient._run``: both use ``effects.drive``, so an exception raised
while performing an effect is thrown back into the flow, and its ``finally`` blocks run.
Hooks (``before``) let a test act as a concurrent sibling at a precise point of a flow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from thunderid_mw._dpop import new_key
from thunderid_mw.core import effects as fx
from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.crypto import Keys, b64url
from thunderid_mw.core.discovery import ProviderMetadata
from thunderid_mw.core.env import FlowEnv, Loaded
from thunderid_mw.core.records import RecordCodec
from thunderid_mw.core.refresh import NOT_A_PROVIDER_FAILURE
from thunderid_mw.core.resolve import refresh_job
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.token_state import RefreshOutcome
from thunderid_mw.core.tokens import TokenSet
from thunderid_mw.stores.base import StoredItem

T = TypeVar("T")

SECRET = "s" * 20 + "0123456789abcdefghij"  # 40 characters
ISSUER = "https://idp.test"
CLIENT_ID = "app-client"
CLIENT_SECRET = "app:secret%"
APP_URL = "https://app.test"
AUTHORIZE_URL = ISSUER + "/oauth2/authorize"
TOKEN_URL = ISSUER + "/oauth2/token"
REVOKE_URL = ISSUER + "/oauth2/revoke"
JWKS_URL = ISSUER + "/oauth2/jwks"
LOGOUT_URL = ISSUER + "/oauth2/logout"
T0 = 1_700_000_000.0
MAX_STEPS = 10_000

Responder = Callable[[fx.HttpCall], fx.HttpResult | fx.HttpFailure]
Hook = Callable[[fx.Effect], None]


# Configuration and environment --------------------------------------------------------------


def make_config(**changes: Any) -> ThunderIDConfig:
    """A valid config (40-char secret, https app) with ``changes`` applied."""
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "after_sign_in_url": APP_URL + "/callback",
        "after_sign_out_url": APP_URL + "/bye",
        "secret": SECRET,
        "base_url": ISSUER,
        "protected_paths": ("/admin",),
    }
    values.update(changes)
    return ThunderIDConfig(**values)


def make_metadata(**changes: Any) -> ProviderMetadata:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": AUTHORIZE_URL,
        "token_endpoint": TOKEN_URL,
        "jwks_uri": JWKS_URL,
        "userinfo_endpoint": ISSUER + "/oauth2/userinfo",
        "revocation_endpoint": REVOKE_URL,
        "introspection_endpoint": ISSUER + "/oauth2/introspect",
        "end_session_endpoint": LOGOUT_URL,
    }
    values.update(changes)
    return ProviderMetadata(**values)


def make_env(
    config: ThunderIDConfig | None = None, metadata: ProviderMetadata | None = None
) -> FlowEnv:
    config = config or make_config()
    keys = Keys.from_secret(config.secret)
    return FlowEnv(
        config, keys, RecordCodec(keys, config.encrypt_tokens), metadata or make_metadata()
    )


# Keys and ID tokens -------------------------------------------------------------------------


@lru_cache(maxsize=8)
def signing_key(kid: str) -> RSAKey:
    """An RSA key with ``kid`` (generated once per test run: key generation is slow)."""
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def public_key_set(*kids: str) -> KeySet:
    return KeySet([RSAKey.import_key(signing_key(k).as_dict(private=False)) for k in kids])


_DROP = object()
DROP: Any = _DROP  # pass as a claim value to leave the claim out


def mint_id_token(
    *,
    kid: str = "k1",
    now: float = T0,
    header: Mapping[str, Any] | None = None,
    key: Any = None,
    **claims: Any,
) -> str:
    """An ID token signed with ``signing_key(kid)``; ``claims`` override the defaults
    (``DROP`` removes one)."""
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "exp": int(now) + 300,
        "iat": int(now),
        "nonce": "n-0",
        "email": "user1@example.test",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not _DROP}
    head = {"alg": "RS256", "kid": kid, **(header or {})}
    return jwt.encode(head, payload, key if key is not None else signing_key(kid))


def unsigned_token(**claims: Any) -> str:
    """A token with ``alg: none`` (must always be refused)."""
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}."


# HTTP helpers -------------------------------------------------------------------------------


def json_result(status: int, doc: Any) -> fx.HttpResult:
    return fx.HttpResult(status, json.dumps(doc).encode())


def token_json(
    access_token: str = "at-2",
    *,
    refresh_token: str | None = "rt-2",
    expires_in: int = 3600,
    id_token: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer"}
    doc["expires_in"] = expires_in
    if refresh_token is not None:
        doc["refresh_token"] = refresh_token
    if id_token is not None:
        doc["id_token"] = id_token
    doc.update(extra)
    return doc


# The world ----------------------------------------------------------------------------------


@dataclass
class Lease:
    owner: str
    expires_at: float


@dataclass
class World:
    """Everything a flow can touch, in memory; inspect it after a run."""

    now: float = T0
    items: dict[str, StoredItem] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    http: dict[str, Responder] = field(default_factory=dict)
    calls: list[fx.HttpCall] = field(default_factory=list)
    effects: list[fx.Effect] = field(default_factory=list)
    logs: list[fx.Log] = field(default_factory=list)
    published_kids: tuple[str, ...] = ("k1",)  # what the provider's JWKS holds now
    cached_kids: tuple[str, ...] | None = None  # what the client fetched last
    key_set_fetches: int = 0
    dpop_keys: list[str] = field(default_factory=list)  # made by NewDPoPKey, in order
    granted: list[tuple[str, str]] = field(default_factory=list)  # leases taken (name, owner)
    released: list[tuple[str, str]] = field(default_factory=list)  # leases given back
    before: list[Hook] = field(default_factory=list)
    # StartRefresh: None records the request only (the background refresh never lands);
    # ``refresh_in_background(env)`` runs it at once, as a sibling worker would.
    background: Callable[[fx.StartRefresh], bool] | None = None
    started: list[fx.StartRefresh] = field(default_factory=list)
    refresh_failed_at: dict[str, float] = field(default_factory=dict)
    _random_counter: int = 0
    _version_counter: int = 0

    # Running flows ----------------------------------------------------------------------

    def run(self, flow: fx.Flow[T]) -> T:
        """Drive ``flow`` to its end with the production trampoline (bounded)."""
        return fx.drive(flow, self.perform, max_steps=MAX_STEPS)

    def perform(self, effect: fx.Effect) -> Any:
        self.effects.append(effect)
        for hook in list(self.before):
            hook(effect)
        match effect:
            case fx.Load(key):
                return self.load(key)
            case fx.Save(key, data, expires_at, expected):
                return self.save(key, data, expires_at, expected)
            case fx.Delete(key):
                self.items.pop(key, None)
                return None
            case fx.Now():
                return self.now
            case fx.Sleep(seconds):
                assert seconds >= 0
                self.now += seconds
                return None
            case fx.RandomBytes(size):
                return self.random_bytes(size)
            case fx.NewDPoPKey():
                self.dpop_keys.append(new_key())
                return self.dpop_keys[-1]
            case fx.HttpCall():
                self.calls.append(effect)
                responder = self.http.get(effect.url.split("?", 1)[0])
                if responder is None:
                    return fx.HttpFailure(f"connection refused: {effect.url}")
                return responder(effect)
            case fx.AcquireLock(name, owner, lease, _wait):
                return self.acquire(name, owner, lease)
            case fx.ReleaseLock(name, owner):
                return self.release(name, owner)
            case fx.GetKeySet(refresh):
                if refresh or self.cached_kids is None:
                    self.cached_kids = self.published_kids
                    self.key_set_fetches += 1
                return public_key_set(*self.cached_kids)
            case fx.Log():
                self.logs.append(effect)
                return None
            case fx.StartRefresh():
                self.started.append(effect)
                return self.background(effect) if self.background is not None else True
            case fx.RunHook(hook, event):
                hook(event)
                return None
            case fx.RefreshFailedAt(key):
                return self.refresh_failed_at.get(key, 0.0)
        raise TypeError(f"unknown effect {effect!r}")

    # Store (the rules of stores/base.py) -----------------------------------------------

    def load(self, key: str) -> StoredItem | None:
        item = self.items.get(key)
        if item is None or item.expires_at <= self.now:
            return None
        return item

    def save(
        self, key: str, data: bytes, expires_at: float, expected_version: int | None
    ) -> int | None:
        current = self.load(key)
        if expected_version is None:
            if current is not None:
                return None
        elif current is None or current.version != expected_version:
            return None
        self._version_counter += 1
        self.items[key] = StoredItem(data, self._version_counter, expires_at)
        return self._version_counter

    def acquire(self, name: str, owner: str, lease: float) -> bool:
        held = self.leases.get(name)
        if held is not None and held.expires_at > self.now and held.owner != owner:
            return False
        self.leases[name] = Lease(owner, self.now + lease)
        self.granted.append((name, owner))
        return True

    def release(self, name: str, owner: str) -> bool:
        held = self.leases.get(name)
        if held is None or held.owner != owner:
            return False
        del self.leases[name]
        self.released.append((name, owner))
        return True

    def live_leases(self) -> dict[str, Lease]:
        return {n: lease for n, lease in self.leases.items() if lease.expires_at > self.now}

    # Randomness -------------------------------------------------------------------------

    def random_bytes(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            self._random_counter += 1
            out += hashlib.sha256(b"rng %d" % self._random_counter).digest()
        return out[:size]

    # Convenience ------------------------------------------------------------------------

    def token_calls(self, url: str = TOKEN_URL) -> list[fx.HttpCall]:
        return [c for c in self.calls if c.url == url]

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]

    def sibling(self, flow: fx.Flow[T], record: list[fx.HttpCall] | None = None) -> T:
        """Run ``flow`` as another worker would, in the middle of a flow under test: it
        shares the store, clock and keys, but is not recorded and triggers no hooks
        (except its provider calls, appended to ``record`` when given)."""
        saved = (self.before, self.effects, self.calls, self.logs)
        self.before, self.effects, self.calls, self.logs = [], [], [], []
        try:
            return self.run(flow)
        finally:
            if record is not None:
                record.extend(self.calls)
            self.before, self.effects, self.calls, self.logs = saved

    def put_session(self, env: FlowEnv, key: str, record: SessionRecord) -> Loaded:
        """Store ``record`` under ``key`` (created, or replacing whatever is there), as a
        sibling worker would."""
        existing = self.sibling(env.load(key))
        version = self.sibling(env.save(key, record, existing.version if existing else None))
        assert version is not None
        return Loaded(record, version)

    def read_session(self, env: FlowEnv, key: str) -> Loaded | None:
        return self.sibling(env.load(key))

    def refresh_in_background(self, env: FlowEnv) -> None:
        """Run every ``StartRefresh`` to its end at once (the background worker was quick),
        remembering a provider failure as the client does."""

        def run_job(effect: fx.StartRefresh) -> bool:
            calls = self.calls
            result = self.sibling(refresh_job(env, effect.key, effect.force), record=calls)
            if (
                result is not None
                and result.outcome is RefreshOutcome.UNAVAILABLE
                and result.detail not in NOT_A_PROVIDER_FAILURE
            ):
                self.refresh_failed_at[effect.key] = self.now
            return True

        self.background = run_job

    def hook(self, kind: type[Any], action: Callable[[Any], None], *, nth: int = 1) -> None:
        """Call ``action(effect)`` once, just before the ``nth`` effect of type ``kind`` is
        performed (a sibling acting at a precise point of the flow under test)."""
        seen = 0

        def before(effect: fx.Effect) -> None:
            nonlocal seen
            if isinstance(effect, kind):
                seen += 1
                if seen == nth:
                    action(effect)

        self.before.append(before)


def make_record(
    now: float = T0,
    *,
    access_token: str = "at-1",
    refresh_token: str | None = "rt-1",
    expires_in: float = 3600.0,
    id_token: str | None = "id-1",
    refresh_expires_at: float | None = None,
    claims: Mapping[str, Any] | None = None,
    last_seen: float | None = None,
    absolute_expires_at: float | None = None,
) -> SessionRecord:
    return SessionRecord(
        tokens=TokenSet(
            access_token=access_token,
            expires_at=now + expires_in,
            refresh_token=refresh_token,
            id_token=id_token,
            scopes=("openid", "profile"),
            refresh_expires_at=refresh_expires_at,
        ),
        claims=dict(claims or {"sub": "user-1"}),
        created_at=now,
        last_seen=now if last_seen is None else last_seen,
        absolute_expires_at=absolute_expires_at
        if absolute_expires_at is not None
        else now + 86400.0,
    )
