"""ID token validation (OIDC Core 3.1.3.7) and JWKS key rotation."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from thunderid_mw.core import effects as fx
from thunderid_mw.core.discovery import ProviderMetadata
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.errors import IDTokenError
from thunderid_mw.core.id_token import (
    UnknownSigningKey,
    decode_unverified_claims,
    load_key_set,
    validate_id_token,
)

from .driver import (
    CLIENT_ID,
    DROP,
    ISSUER,
    T0,
    World,
    mint_id_token,
    public_key_set,
    signing_key,
    unsigned_token,
)

LEEWAY = 60


def validate(
    token: str, *, nonce: str | None = "n-0", now: float = T0, **kwargs: Any
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "now": now,
        "leeway": LEEWAY,
        "nonce": nonce,
        "algorithms": ("RS256",),
    }
    options.update(kwargs)
    key_set = options.pop("key_set", public_key_set("k1"))
    return validate_id_token(token, key_set, **options)


def test_valid_token() -> None:
    claims = validate(mint_id_token())
    assert claims["sub"] == "user-1"
    assert claims["email"] == "user1@example.test"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": [CLIENT_ID, "other"], "azp": CLIENT_ID},
        {"aud": [CLIENT_ID, "other"]},  # azp is optional
        {"aud": [CLIENT_ID]},
        {"exp": int(T0) - LEEWAY + 5},  # expired, within the leeway
        {"iat": int(T0) + LEEWAY - 5},  # slightly ahead, within the leeway
    ],
)
def test_accepted_variants(claims: dict[str, Any]) -> None:
    assert validate(mint_id_token(**claims))["sub"] == "user-1"


def test_no_nonce_expected() -> None:
    # Refresh and token-exchange responses: no nonce check.
    assert validate(mint_id_token(nonce=DROP), nonce=None)["sub"] == "user-1"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.test"}, "claims"),
        ({"iss": DROP}, "claims"),
        ({"aud": "other"}, "audience"),
        ({"aud": ["a", "b"]}, "audience"),
        ({"aud": DROP}, "audience"),
        ({"aud": [CLIENT_ID, "other"], "azp": "other"}, "authorized party"),
        ({"exp": int(T0) - LEEWAY - 5}, "claims"),
        ({"exp": DROP}, "claims"),
        ({"iat": int(T0) + LEEWAY + 30}, "future"),
        ({"iat": DROP}, "claims"),
        ({"sub": DROP}, "claims"),
        ({"nonce": "other"}, "nonce"),
        ({"nonce": DROP}, "nonce"),
    ],
)
def test_failed_claim_checks(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(IDTokenError, match=message) as info:
        validate(mint_id_token(**claims))
    assert not isinstance(info.value, UnknownSigningKey)


def test_bad_signature() -> None:
    token = mint_id_token(key=signing_key("k-other"))  # header says k1
    with pytest.raises(IDTokenError, match="signature") as info:
        validate(token)
    assert not isinstance(info.value, UnknownSigningKey)


def test_modified_payload_breaks_the_signature() -> None:
    head, _, sig = mint_id_token().split(".")
    forged_body = mint_id_token(sub="admin").split(".")[1]
    with pytest.raises(IDTokenError):
        validate(f"{head}.{forged_body}.{sig}")


def test_alg_none_is_refused() -> None:
    token = unsigned_token(iss=ISSUER, sub="u", aud=CLIENT_ID, exp=T0 + 60, iat=T0, nonce="n-0")
    with pytest.raises(IDTokenError):
        validate(token)


def test_discovery_never_allows_alg_none() -> None:
    # validate_id_token trusts its ``algorithms``; they come from discovery, which drops
    # "none" whatever the provider advertises.
    doc = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/a",
        "token_endpoint": ISSUER + "/t",
        "jwks_uri": ISSUER + "/j",
        "id_token_signing_alg_values_supported": ["none", "RS256"],
    }
    metadata = ProviderMetadata.from_json(doc, ISSUER)
    assert metadata.id_token_signing_alg_values_supported == ("RS256",)
    token = unsigned_token(iss=ISSUER, sub="u", aud=CLIENT_ID, exp=T0 + 60, iat=T0, nonce="n-0")
    for algs in (("none",), ()):
        doc["id_token_signing_alg_values_supported"] = list(algs)
        allowed = ProviderMetadata.from_json(doc, ISSUER).id_token_signing_alg_values_supported
        with pytest.raises(IDTokenError):
            validate(token, algorithms=allowed)


def test_unsupported_alg_is_refused() -> None:
    # HS256 with a key an attacker picked (classic RS/HS confusion) is never accepted.
    token = jwt.encode({"alg": "HS256"}, {"iss": ISSUER, "sub": "u"}, OctKey.generate_key(256))
    with pytest.raises(IDTokenError):
        validate(token)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "e30.e30.", "!!.!!.!!"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(IDTokenError):
        validate(token)


def test_unknown_kid_raises_unknown_signing_key() -> None:
    with pytest.raises(UnknownSigningKey):
        validate(mint_id_token(kid="k2"))


def test_load_key_set() -> None:
    key_set = load_key_set(public_key_set("k1").as_dict())
    assert [k.kid for k in key_set.keys] == ["k1"]
    with pytest.raises(IDTokenError, match="JWKS"):
        load_key_set({"keys": [{"kty": "nope"}]})


def test_decode_unverified_claims() -> None:
    assert decode_unverified_claims(mint_id_token(sub="u-7"))["sub"] == "u-7"
    assert decode_unverified_claims("not-a-jwt") == {}
    assert decode_unverified_claims("a.!!!.c") == {}


# Through FlowEnv: the JWKS is fetched again once for an unknown kid ---------------------


def test_rotated_key_set_is_refetched_once(world: World, env: FlowEnv) -> None:
    world.published_kids = ("k1",)
    world.run(env.validate_id_token(mint_id_token(kid="k1"), nonce="n-0"))  # caches k1
    world.effects.clear()
    world.published_kids = ("k1", "k2")  # the provider rotates its keys
    claims = world.run(env.validate_id_token(mint_id_token(kid="k2"), nonce="n-0"))
    assert claims["sub"] == "user-1"
    assert world.of_type(fx.GetKeySet) == [fx.GetKeySet(False), fx.GetKeySet(True)]
    assert world.key_set_fetches == 2


def test_second_unknown_kid_after_refetch_fails(world: World, env: FlowEnv) -> None:
    world.run(env.validate_id_token(mint_id_token(kid="k1"), nonce="n-0"))
    world.effects.clear()
    world.published_kids = ("k1", "k2")
    with pytest.raises(UnknownSigningKey):
        world.run(env.validate_id_token(mint_id_token(kid="k3"), nonce="n-0"))
    # Exactly one refetch: an unknown kid cannot make the client hammer the JWKS.
    assert world.of_type(fx.GetKeySet) == [fx.GetKeySet(False), fx.GetKeySet(True)]


def test_known_kid_needs_no_refetch(world: World, env: FlowEnv) -> None:
    world.run(env.validate_id_token(mint_id_token(kid="k1"), nonce="n-0"))
    world.run(env.validate_id_token(mint_id_token(kid="k1"), nonce="n-0"))
    assert world.of_type(fx.GetKeySet) == [fx.GetKeySet(False)] * 2
    assert world.key_set_fetches == 1


def test_flow_env_uses_the_clock_and_config(world: World, env: FlowEnv) -> None:
    token = mint_id_token(now=T0)
    world.now = T0 + 300 + env.config.clock_skew + 1  # past exp + leeway
    with pytest.raises(IDTokenError):
        world.run(env.validate_id_token(token, nonce="n-0"))


AKP_KEY = {"kty": "AKP", "alg": "ML-DSA-44", "kid": "pq-1", "pub": "AAAA"}


def _jwks_with_akp() -> dict[str, Any]:
    return {"keys": [AKP_KEY, signing_key("k1").as_dict(private=False)]}


def test_a_jwks_with_unusable_keys_still_loads() -> None:
    """ThunderID may publish ML-DSA keys (``kty: "AKP"``) beside RS256: skipped, named."""
    key_set = load_key_set(_jwks_with_akp())
    assert [k.kid for k in key_set.keys] == ["k1"]
    assert key_set.unusable == {"pq-1": "AKP/ML-DSA-44"}
    assert validate(mint_id_token(), key_set=key_set)["sub"] == "user-1"


def test_a_token_signed_with_an_unusable_key_names_the_algorithm() -> None:
    key_set = load_key_set(_jwks_with_akp())
    token = mint_id_token(header={"kid": "pq-1"})
    with pytest.raises(IDTokenError, match="AKP/ML-DSA-44") as caught:
        validate(token, key_set=key_set)
    assert not isinstance(caught.value, UnknownSigningKey)  # no pointless JWKS refetch


def test_a_jwks_of_only_unusable_keys_is_an_error() -> None:
    with pytest.raises(IDTokenError, match="no key this library can use: AKP/ML-DSA-44"):
        load_key_set({"keys": [AKP_KEY]})
