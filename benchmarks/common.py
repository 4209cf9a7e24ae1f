"""What every benchmark shares: the configuration, a realistic token set, signed-in
sessions written straight into a store, and the timing loop.

A session is created here exactly as a sign-in stores it (``SessionRecord`` encoded by the
client's own ``RecordCodec`` under ``Keys.store_key_for("s", session_id)``), without an
identity provider: the hot path never needs the provider's metadata.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thunderid_mw import ThunderIDConfig
from thunderid_mw.core.crypto import Keys
from thunderid_mw.core.records import RecordCodec
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenSet
from thunderid_mw.stores.base import SessionStore

BENCH_SECRET = "benchmark-secret-0123456789-abcdefghijklmnop"
COOKIE_NAME = "__thunderid__session"
# Other cookies a browser typically sends along (every variant gets the same ones).
OTHER_COOKIES = "_ga=GA1.1.1234567890.1700000000; theme=dark"
TEN_YEARS = 10 * 365 * 86400.0


def bench_config(store: SessionStore | str, **changes: Any) -> ThunderIDConfig:
    """The middleware configuration of every benchmark app.

    The provider address is never contacted on the measured paths. ``touch_interval`` is
    raised from 60 s to an hour so that every measured request is the hot path: the touch is
    one store write per session per interval (nothing per request), the only part of the
    slow path a fresh session would otherwise reach during a run longer than a minute.
    """
    values: dict[str, Any] = {
        "client_id": "bench-client",
        "client_secret": "bench-client-secret",
        "base_url": "http://127.0.0.1:9",
        "after_sign_in_url": "http://127.0.0.1:8000/callback",
        "secret": BENCH_SECRET,
        "store": store,
        "protected_paths": ("/private", "/api"),
        "touch_interval": 3600.0,
    }
    values.update(changes)
    return ThunderIDConfig(**values)


# -- a realistic token set --------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(rng: random.Random, claims: dict[str, Any], signature_bytes: int = 256) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": "key-2024-01"}
    return ".".join(
        (
            _b64(json.dumps(header).encode()),
            _b64(json.dumps(claims).encode()),
            _b64(rng.randbytes(signature_bytes)),
        )
    )


@dataclass(frozen=True)
class Tokens:
    """One user's tokens and ID-token claims, the same for ours and the peers."""

    access_token: str
    refresh_token: str
    id_token: str
    scopes: tuple[str, ...]
    claims: dict[str, Any]
    expires_at: float

    def as_session_dict(self) -> dict[str, Any]:
        """The shape a cookie-session peer keeps (Starlette, Flask)."""
        return {
            "tokens": {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "id_token": self.id_token,
                "token_type": "Bearer",
                "scope": " ".join(self.scopes),
                "expires_at": self.expires_at,
            }
        }


def make_tokens(seed: int = 1, now: float | None = None) -> Tokens:
    """An access token, refresh token and ID token of realistic sizes (RS256 JWTs, about
    1.5 kB of JSON in all: a ~2 kB signed cookie for the cookie-session peers), valid for
    ten years."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    issuer = "https://localhost:8090"
    sub = f"user-{seed:08d}-5f3c2a"
    claims = {
        "sub": sub,
        "name": "Alice Example",
        "given_name": "Alice",
        "family_name": "Example",
        "preferred_username": "alice",
        "email": "alice@example.com",
        "email_verified": True,
        "iss": issuer,
        "aud": "bench-client",
        "iat": int(now),
        "exp": int(now + 3600),
        "auth_time": int(now),
        "sid": _b64(rng.randbytes(16)),
    }
    access = _jwt(
        rng,
        {
            "iss": issuer,
            "sub": sub,
            "aud": ["bench-client", "https://api.example.com"],
            "scope": "openid profile email",
            "jti": _b64(rng.randbytes(16)),
            "iat": int(now),
            "exp": int(now + TEN_YEARS),
        },
    )
    id_token = _jwt(rng, claims)
    return Tokens(
        access_token=access,
        refresh_token=_b64(rng.randbytes(48)),
        id_token=id_token,
        scopes=("openid", "profile", "email"),
        claims=claims,
        expires_at=now + TEN_YEARS,
    )


# -- sessions written straight into a store ------------------------------------------------


def new_session_id() -> str:
    """A session id as the middleware makes one (base64url of 32 random bytes)."""
    return _b64(secrets.token_bytes(32))


def session_record(tokens: Tokens, now: float | None = None) -> SessionRecord:
    now = time.time() if now is None else now
    return SessionRecord(
        tokens=TokenSet(
            access_token=tokens.access_token,
            expires_at=tokens.expires_at,
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
            scopes=tokens.scopes,
        ),
        claims=tokens.claims,
        created_at=now,
        last_seen=now,
        absolute_expires_at=now + TEN_YEARS,
    )


def encoded_session(
    config: ThunderIDConfig, session_id: str, tokens: Tokens
) -> tuple[str, bytes, float]:
    """(store key, stored bytes, store expiry) of a fresh session, as a sign-in writes it."""
    keys = Keys.from_secret(config.secret)
    codec = RecordCodec(keys, config.encrypt_tokens)
    key = keys.store_key_for("s", session_id)
    record = session_record(tokens)
    data = codec.encode(record, key, os.urandom(codec.nonce_size))
    expires_at = record.deadline(config.idle_timeout) + config.ended_session_memory
    return key, data, expires_at


def seed_session(
    config: ThunderIDConfig, store: SessionStore, session_id: str, tokens: Tokens | None = None
) -> bool:
    """Store a signed-in session for ``session_id`` (False if one is there already)."""
    key, data, expires_at = encoded_session(config, session_id, tokens or make_tokens())
    return store.save(key, data, expires_at=expires_at, expected_version=None) is not None


def cookie_header(session_id: str | None) -> str:
    if session_id is None:
        return OTHER_COOKIES
    return f"{OTHER_COOKIES}; {COOKIE_NAME}={session_id}"


# -- timing ----------------------------------------------------------------------------


@dataclass
class Stats:
    """Microseconds per request over several rounds."""

    rounds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def low(self) -> float:
        return min(self.rounds)

    @property
    def high(self) -> float:
        return max(self.rounds)


def time_loop(run: Callable[[int], None], n: int) -> float:
    """Microseconds per call of ``run(n)`` doing ``n`` calls (garbage collected first)."""
    gc.collect()
    start = time.perf_counter_ns()
    run(n)
    return (time.perf_counter_ns() - start) / n / 1000.0


def calibrate(timer: Callable[[int], float], target_seconds: float, cap: int = 2_000_000) -> int:
    """How many calls take about ``target_seconds``; ``timer(n)`` makes ``n`` calls and
    returns microseconds per call. The first, small runs warm caches up."""
    n = 50
    while True:
        per_call = timer(n)
        if n * per_call / 1e6 >= target_seconds / 8 or n >= cap:
            break
        n *= 4
    per_call = min(per_call, timer(n))
    return max(50, min(cap, int(target_seconds * 1e6 / max(per_call, 1e-3))))


def paired_overhead(variant: list[float], baseline: list[float]) -> float:
    """Median over rounds of (variant - baseline) measured in the same round."""
    return statistics.median(v - b for v, b in zip(variant, baseline, strict=True))


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
