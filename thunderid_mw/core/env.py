"""``FlowEnv``: what every flow needs (config, keys, provider metadata) and the small
sub-flows they share (validate an ID token, write a record, post to an endpoint)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from joserfc.jwk import KeySet

from .config import ThunderIDConfig
from .crypto import Keys
from .discovery import ProviderMetadata
from .effects import (
    Flow,
    GetKeySet,
    GetMetadata,
    HttpCall,
    HttpFailure,
    HttpResult,
    LeaseHold,
    Load,
    Log,
    Now,
    RandomBytes,
    Save,
)
from .errors import OutcomeUnknown, ProviderError, ProviderMisconfigured
from .events import CLOCK_SKEW, GENERAL
from .id_token import UnknownSigningKey, validate_id_token
from .records import RecordCodec
from .session import SessionRecord
from .tokens import TokenRequest, build_token_request

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Loaded:
    """A record as read from the store, with the version it had."""

    record: SessionRecord
    version: int


@dataclass(frozen=True)
class FlowEnv:
    """``metadata`` may be left out: flows that need the provider ask for it
    (``provider()``), so work that does not (a touch, an expiry) never waits on it."""

    config: ThunderIDConfig
    keys: Keys
    codec: RecordCodec
    metadata: ProviderMetadata | None = None

    def provider(self) -> Flow[ProviderMetadata]:
        if self.metadata is not None:
            return self.metadata
        metadata: ProviderMetadata = yield GetMetadata()
        return metadata

    # Store ----------------------------------------------------------------------------

    def load(self, key: str) -> Flow[Loaded | None]:
        item = yield Load(key)
        if item is None:
            return None
        record = self.codec.decode(item.data, key)
        return None if record is None else Loaded(record, item.version)

    def store_expiry(self, record: SessionRecord) -> float:
        if record.ended is not None:
            return record.last_seen + self.config.ended_session_memory
        return record.deadline(self.config.idle_timeout) + self.config.ended_session_memory

    def save(
        self, key: str, record: SessionRecord, expected_version: int | None
    ) -> Flow[int | None]:
        """Compare-and-set write; the new version, or None when another writer won."""
        nonce = (yield RandomBytes(self.codec.nonce_size)) if self.codec.nonce_size else b""
        data = self.codec.encode(record, key, nonce)
        version: int | None = yield Save(key, data, self.store_expiry(record), expected_version)
        return version

    # Provider -------------------------------------------------------------------------

    def token_request(
        self,
        params: Mapping[str, str],
        *,
        url: str,
        bearer: str | None = None,
        dpop_key: str | None = None,
        dpop_bound_token: str | None = None,
    ) -> TokenRequest:
        config = self.config
        method = config.auth_method
        presents_token = bearer is not None or dpop_bound_token is not None
        if presents_token and method == "client_secret_basic":
            # The Authorization header carries the bearer token; credentials go in the body.
            method = "client_secret_post"
        return build_token_request(
            url,
            params,
            method=method,
            client_id=config.client_id,
            client_secret=config.client_secret,
            bearer=bearer,
            dpop_key=dpop_key,
            dpop_bound_token=dpop_bound_token,
        )

    def post(
        self,
        request: TokenRequest,
        purpose: str,
        *,
        timeout: float | None = None,
        keep_lease: LeaseHold | None = None,
    ) -> Flow[HttpResult]:
        """POST a form; ``ProviderError`` when the endpoint cannot be reached,
        ``OutcomeUnknown`` when the request may have reached it but no answer came."""
        result = yield HttpCall(
            "POST",
            request.url,
            purpose,
            request.headers,
            request.form,
            timeout,
            keep_lease,
            request.client_assertion,
            request.dpop_key,
            request.dpop_access_token,
        )
        if isinstance(result, HttpFailure):
            error = OutcomeUnknown if result.sent else ProviderError
            if result.wrong_scheme:
                error = ProviderMisconfigured
            raise error(f"the {purpose} could not be reached: {result.message}")
        assert isinstance(result, HttpResult)
        return result

    def provider_clock(self, response: HttpResult) -> Flow[float]:
        """The time to count the answer's ``expires_in`` from: the provider's clock (its
        ``Date`` header) when it sent one, so that every host stores expiry times on one
        clock whatever its own says; a host whose clock is off by more than
        ``clock_skew`` says so in the log."""
        now: float = yield Now()
        # Date has whole seconds: closer than this, the clocks agree and ours is finer.
        if response.date is None or abs(now - response.date) <= DATE_RESOLUTION:
            return now
        if abs(now - response.date) > self.config.clock_skew:
            yield self.log(
                logging.WARNING,
                f"this host's clock differs from the provider's by "
                f"{now - response.date:+.0f} s; expiry times follow the provider's clock",
                event=CLOCK_SKEW,
            )
        return response.date

    def with_key_set(self, check: Callable[[KeySet, ProviderMetadata, float], T]) -> Flow[T]:
        """``check(key_set, metadata, now)`` against the provider's signing keys; a key id
        the set does not hold fetches the JWKS once more (the provider rotated its keys)."""
        metadata = yield from self.provider()
        now = yield Now()
        refresh = False
        while True:
            key_set = yield GetKeySet(refresh)
            try:
                return check(key_set, metadata, now)
            except UnknownSigningKey:
                if refresh:
                    raise
                refresh = True

    def validate_id_token(self, id_token: str, nonce: str | None) -> Flow[dict[str, Any]]:
        """The claims of a valid ID token (``IDTokenError`` otherwise)."""
        config = self.config

        def check(key_set: KeySet, metadata: ProviderMetadata, now: float) -> dict[str, Any]:
            return validate_id_token(
                id_token,
                key_set,
                issuer=metadata.issuer,
                client_id=config.client_id,
                now=now,
                leeway=config.clock_skew,
                nonce=nonce,
                algorithms=metadata.id_token_signing_alg_values_supported,
            )

        return (yield from self.with_key_set(check))

    @staticmethod
    def log(level: int, message: str, *, event: str = GENERAL, **fields: str) -> Log:
        """A log effect: ``event`` is a stable name from core/events.py; ``fields`` are
        short values safe to log (``session=keys.session_tag(...)``, ``client_id=...``)."""
        return Log(level, message, event, tuple(fields.items()))


INFO = logging.INFO
WARNING = logging.WARNING
DATE_RESOLUTION = 2.0
ERROR = logging.ERROR
