"""What a process knows of the identity provider: its discovery document and its keys
(JWKS), fetched on first need and cached, driven by effects like every other flow.

* Discovery is fetched once; a failure is remembered for ``DISCOVERY_RETRY_INTERVAL``
  seconds, so a provider that is down is not asked again on every request.
* The JWKS is fetched once and again on an unknown ``kid`` (key rotation), but not more
  often than every ``JWKS_MIN_REFETCH_INTERVAL`` seconds: unknown kids cost an attacker
  nothing.
* The clock is the ``Now`` effect. Single-flight (one fetch for many concurrent first
  requests of a process) is the drivers' part: they run these flows under one lock.
"""

from __future__ import annotations

import logging

from joserfc.jwk import KeySet

from . import events
from .config import ThunderIDConfig
from .discovery import ProviderMetadata
from .effects import Flow, HttpCall, HttpFailure, HttpResult, Log, Now
from .errors import ProviderError, ProviderMisconfigured, TLSVerificationError
from .id_token import load_key_set
from .tokens import parse_json_body

JWKS_MIN_REFETCH_INTERVAL = 30.0
DISCOVERY_RETRY_INTERVAL = 5.0


class ProviderCache:
    """One process's provider knowledge (one per client). Read ``metadata`` for the fast
    path; change it only through the flows below."""

    __slots__ = ("_error", "_error_at", "_key_set_at", "key_set", "metadata")

    def __init__(self) -> None:
        self.metadata: ProviderMetadata | None = None
        self.key_set: KeySet | None = None
        self._key_set_at = 0.0
        self._error: ProviderError | None = None
        self._error_at = 0.0

    def __repr__(self) -> str:
        return (
            f"<ProviderCache metadata={self.metadata is not None} keys={self.key_set is not None}>"
        )


def metadata_flow(cache: ProviderCache, config: ThunderIDConfig) -> Flow[ProviderMetadata]:
    """The provider's metadata: cached, else fetched (a failure is remembered briefly)."""
    if cache.metadata is not None:
        return cache.metadata
    now: float = yield Now()
    if cache._error is not None and now - cache._error_at < DISCOVERY_RETRY_INTERVAL:
        raise cache._error
    url = config.effective_discovery_url
    try:
        result = yield HttpCall("GET", url, "discovery endpoint", {"Accept": "application/json"})
        _raise_failure(result)
        if result.status != 200:
            raise ProviderError(f"discovery at {url} answered HTTP {result.status}")
        doc = parse_json_body(result.status, result.body, "discovery endpoint")
        metadata = ProviderMetadata.from_json(doc, config.issuer or config.base_url)
    except ProviderError as exc:
        cache._error, cache._error_at = exc, now
        raise
    cache.metadata, cache._error = metadata, None
    return metadata


def key_set_flow(cache: ProviderCache, config: ThunderIDConfig, refresh: bool) -> Flow[KeySet]:
    """The provider's JWKS; ``refresh`` (an unknown ``kid``) fetches it again, at most
    every ``JWKS_MIN_REFETCH_INTERVAL`` seconds."""
    if cache.key_set is not None:
        if not refresh:
            return cache.key_set
        now: float = yield Now()
        if now - cache._key_set_at < JWKS_MIN_REFETCH_INTERVAL:
            return cache.key_set
    metadata = yield from metadata_flow(cache, config)
    result = yield HttpCall(
        "GET", metadata.jwks_uri, "JWKS endpoint", {"Accept": "application/json"}
    )
    _raise_failure(result)
    if result.status != 200:
        raise ProviderError(f"the JWKS at {metadata.jwks_uri} answered HTTP {result.status}")
    key_set = load_key_set(parse_json_body(result.status, result.body, "JWKS endpoint"))
    if key_set.unusable:
        skipped = ", ".join(f"{kid} ({kind})" for kid, kind in key_set.unusable.items())
        yield Log(
            logging.WARNING,
            f"JWKS: skipped keys this library cannot use: {skipped}",
            events.PROVIDER_KEYS_SKIPPED,
        )
    fetched_at: float = yield Now()
    cache.key_set, cache._key_set_at = key_set, fetched_at
    return key_set


def _raise_failure(result: HttpResult | HttpFailure) -> None:
    if isinstance(result, HttpFailure):
        if result.wrong_scheme:
            raise ProviderMisconfigured(result.message)
        raise (TLSVerificationError if result.tls else ProviderError)(result.message)


__all__ = [
    "DISCOVERY_RETRY_INTERVAL",
    "JWKS_MIN_REFETCH_INTERVAL",
    "ProviderCache",
    "key_set_flow",
    "metadata_flow",
]
