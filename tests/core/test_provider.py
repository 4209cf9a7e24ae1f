"""``core/provider.py``: discovery and JWKS are fetched on first need and cached; a
discovery failure is remembered for a few seconds; an unknown ``kid`` refetches the JWKS
at most every 30 s; the clock is always the ``Now`` effect (the fake world's)."""

from __future__ import annotations

import json

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.errors import ProviderError, TLSVerificationError
from thunderid_mw.core.provider import (
    DISCOVERY_RETRY_INTERVAL,
    JWKS_MIN_REFETCH_INTERVAL,
    ProviderCache,
    key_set_flow,
    metadata_flow,
)

from .driver import ISSUER, JWKS_URL, TOKEN_URL, World, make_config, public_key_set

DISCOVERY_URL = ISSUER + "/.well-known/openid-configuration"
DOCUMENT = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/oauth2/authorize",
    "token_endpoint": TOKEN_URL,
    "jwks_uri": JWKS_URL,
}


def _serve(world: World, url: str, status: int, doc: object) -> None:
    world.http[url] = lambda call: fx.HttpResult(status, json.dumps(doc).encode())


def _fetches(world: World, url: str) -> int:
    return sum(1 for call in world.calls if call.url == url)


def test_discovery_is_fetched_once() -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    assert config.effective_discovery_url == DISCOVERY_URL
    _serve(world, DISCOVERY_URL, 200, DOCUMENT)
    first = world.run(metadata_flow(cache, config))
    again = world.run(metadata_flow(cache, config))
    assert first is again and first.token_endpoint == TOKEN_URL
    assert _fetches(world, DISCOVERY_URL) == 1
    assert cache.metadata is first


@pytest.mark.parametrize(
    ("status", "doc", "refused"),
    [(500, {}, False), (200, {"issuer": ISSUER}, False), (200, [1], False), (0, None, True)],
)
def test_a_discovery_failure_is_remembered_for_a_while(
    status: int, doc: object, refused: bool
) -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    if not refused:  # else no responder: connection refused
        _serve(world, DISCOVERY_URL, status, doc)
    with pytest.raises(ProviderError) as first:
        world.run(metadata_flow(cache, config))
    world.now += DISCOVERY_RETRY_INTERVAL - 1
    with pytest.raises(ProviderError) as remembered:
        world.run(metadata_flow(cache, config))
    assert remembered.value is first.value
    assert _fetches(world, DISCOVERY_URL) == 1  # not asked again meanwhile
    _serve(world, DISCOVERY_URL, 200, DOCUMENT)
    world.now += 2  # the memory has lapsed
    assert world.run(metadata_flow(cache, config)).issuer == ISSUER
    assert _fetches(world, DISCOVERY_URL) == 2


def test_an_untrusted_certificate_is_a_tls_error() -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    world.http[DISCOVERY_URL] = lambda call: fx.HttpFailure("certificate verify failed", True)
    with pytest.raises(TLSVerificationError):
        world.run(metadata_flow(cache, config))


def test_the_key_set_is_fetched_once_and_refetched_at_most_every_30_s() -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    _serve(world, DISCOVERY_URL, 200, DOCUMENT)
    _serve(world, JWKS_URL, 200, public_key_set("k1").as_dict())
    first = world.run(key_set_flow(cache, config, refresh=False))
    assert world.run(key_set_flow(cache, config, refresh=False)) is first
    # An unknown kid right away: the rate limit answers from the cache.
    assert world.run(key_set_flow(cache, config, refresh=True)) is first
    assert _fetches(world, JWKS_URL) == 1
    _serve(world, JWKS_URL, 200, public_key_set("k1", "k2").as_dict())
    world.now += JWKS_MIN_REFETCH_INTERVAL
    rotated = world.run(key_set_flow(cache, config, refresh=True))
    assert rotated is not first and _fetches(world, JWKS_URL) == 2
    assert {key.kid for key in rotated.keys} == {"k1", "k2"}
    assert _fetches(world, DISCOVERY_URL) == 1


def test_a_jwks_failure_is_a_provider_error_and_caches_nothing() -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    _serve(world, DISCOVERY_URL, 200, DOCUMENT)
    _serve(world, JWKS_URL, 503, {})
    with pytest.raises(ProviderError, match="503"):
        world.run(key_set_flow(cache, config, refresh=False))
    assert cache.key_set is None
    _serve(world, JWKS_URL, 200, public_key_set("k1").as_dict())
    assert world.run(key_set_flow(cache, config, refresh=False)) is cache.key_set


def test_unusable_keys_are_skipped_with_one_log_line() -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    _serve(world, DISCOVERY_URL, 200, DOCUMENT)
    jwks = public_key_set("k1").as_dict()
    jwks["keys"].append({"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": "AAAA"})
    _serve(world, JWKS_URL, 200, jwks)
    key_set = world.run(key_set_flow(cache, config, refresh=False))
    assert [key.kid for key in key_set.keys] == ["k1"]
    assert [log.event for log in world.logs] == ["provider.keys_skipped"]
    assert "pq" in world.logs[0].message


def test_the_clock_is_the_now_effect() -> None:
    world, cache, config = World(), ProviderCache(), make_config()
    with pytest.raises(ProviderError):
        world.run(metadata_flow(cache, config))
    assert any(isinstance(effect, fx.Now) for effect in world.effects)
