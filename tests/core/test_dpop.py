"""core/dpop.py: the proofs (RFC 9449 4.2), and what the token endpoint's answer means
with and without DPoP; the drivers' nonce memory (thunderid_mw/_dpop.py)."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey

from thunderid_mw._dpop import DPoPNonces, new_key
from thunderid_mw.core.crypto import b64url
from thunderid_mw.core.dpop import access_token_hash, make_proof, target_uri, thumbprint
from thunderid_mw.core.errors import ProviderError
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenSet, build_token_request, parse_token_response

KEY = new_key()
URL = "https://api.example/v1/items?page=2#top"


def _decode(proof: str) -> tuple[dict[str, object], dict[str, object]]:
    header = jws.extract_compact(proof.encode()).protected
    key = ECKey.import_key(header["jwk"])
    return dict(header), dict(jwt.decode(proof, key, algorithms=["ES256"]).claims)


def test_a_proof_names_the_request_and_carries_only_the_public_key() -> None:
    proof = make_proof(KEY, "get", URL, issued_at=1000.9, jti=b"\x01" * 16)
    header, claims = _decode(proof)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert "d" not in header["jwk"]  # type: ignore[operator]
    assert claims == {
        "jti": b64url(b"\x01" * 16),
        "htm": "GET",
        "htu": "https://api.example/v1/items",
        "iat": 1000,
    }


def test_a_resource_proof_carries_ath_and_the_nonce() -> None:
    proof = make_proof(KEY, "POST", URL, issued_at=1, jti=b"j", nonce="n-1", access_token="at")
    claims = _decode(proof)[1]
    assert claims["nonce"] == "n-1"
    assert claims["ath"] == b64url(hashlib.sha256(b"at").digest()) == access_token_hash("at")


def test_the_thumbprint_is_the_public_keys() -> None:
    public = ECKey.import_key(json.loads(KEY)).as_dict(private=False)
    assert thumbprint(KEY) == ECKey.import_key(public).thumbprint()
    assert target_uri("http://h:1/p?q") == "http://h:1/p"


def _answer(token_type: str) -> bytes:
    return json.dumps({"access_token": "a", "token_type": token_type}).encode()


def test_a_dpop_token_is_accepted_only_when_asked_for_and_keeps_its_key() -> None:
    bound = parse_token_response(200, _answer("DPoP"), 0, dpop_key=KEY)
    assert bound.token_type == "DPoP" and bound.dpop_key == KEY
    with pytest.raises(ProviderError, match="DPoP"):
        parse_token_response(200, _answer("DPoP"), 0)
    with pytest.raises(ProviderError, match="mac"):
        parse_token_response(200, _answer("mac"), 0, dpop_key=KEY)
    # A provider that ignores the proof answers Bearer: used as Bearer, no key kept.
    assert parse_token_response(200, _answer("Bearer"), 0, dpop_key=KEY).dpop_key is None


def test_the_key_survives_a_refresh_and_the_record_but_never_repr() -> None:
    tokens = TokenSet("at-1", token_type="DPoP", refresh_token="rt", dpop_key=KEY)
    refreshed = tokens.merged_with(TokenSet("at-2", token_type="DPoP"))
    assert refreshed.dpop_key == KEY
    record = SessionRecord(tokens, {"sub": "a"}, 0.0, 0.0, 1.0)
    restored = SessionRecord.from_bytes(record.to_bytes())
    assert restored is not None and restored.tokens.dpop_key == KEY
    secret = json.loads(KEY)["d"]
    request = build_token_request("https://idp/token", {}, method="none", client_id="c",
                                  client_secret=None, dpop_key=KEY)  # fmt: skip
    for obj in (tokens, request):
        assert secret not in repr(obj)
    assert request.dpop_key == KEY


def _response(status: int, headers: dict[str, str], body: object) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=body)


def test_the_driver_retries_once_only_when_the_server_asks_for_a_nonce() -> None:
    nonces = DPoPNonces()
    asked = _response(400, {"DPoP-Nonce": "n-1"}, {"error": "use_dpop_nonce"})
    assert nonces.retry_with_nonce("https://idp/token", asked)
    assert _decode(nonces.proof(KEY, "POST", "https://idp/token"))[1]["nonce"] == "n-1"
    # A new nonce on success is remembered, but nothing is sent again.
    ok = _response(200, {"DPoP-Nonce": "n-2"}, {})
    assert not nonces.retry_with_nonce("https://idp/token", ok)
    assert _decode(nonces.proof(KEY, "POST", "https://idp/x"))[1]["nonce"] == "n-2"
    # Other refusals, or a refusal without a nonce, are not retried.
    assert not nonces.retry_with_nonce(
        "https://idp/token", _response(400, {}, {"error": "use_dpop_nonce"})
    )
    assert not nonces.retry_with_nonce(
        "https://idp/token", _response(400, {"DPoP-Nonce": "n"}, {"error": "invalid_grant"})
    )
    api = _response(
        401, {"DPoP-Nonce": "n-3", "WWW-Authenticate": 'DPoP error="use_dpop_nonce"'}, {}
    )
    assert nonces.retry_with_nonce("https://api.example/v1", api)
    # Nonces are per server.
    assert "nonce" not in _decode(nonces.proof(KEY, "GET", "https://other.example/"))[1]


def test_the_driver_names_a_presented_token_in_the_proof() -> None:
    """A token request that presents a DPoP-bound access token (an exchange with
    ``attach_token``) gets a proof with its hash (``ath``); other token requests do not."""
    from tests.core.driver import make_config
    from thunderid_mw import ThunderIDClient
    from thunderid_mw.core.effects import HttpCall

    client = ThunderIDClient(make_config(dpop=True), http=httpx.Client())
    for presented, ath in (("at-1", access_token_hash("at-1")), (None, None)):
        call = HttpCall(
            "POST",
            "https://idp/token",
            "token endpoint",
            {},
            {},
            dpop_key=KEY,
            dpop_access_token=presented,
        )
        headers = client._request_args(call)["headers"]
        assert _decode(headers["DPoP"])[1].get("ath") == ath
    client.close()


@pytest.mark.parametrize(
    ("token_type", "key", "bound"),
    [("DPoP", KEY, True), ("dpop", KEY, True), ("Bearer", KEY, False), ("DPoP", None, False)],
)
def test_a_token_is_dpop_bound_only_with_a_key_and_the_dpop_type(
    token_type: str, key: str | None, bound: bool
) -> None:
    """A Bearer answer to a DPoP request keeps the key (later refreshes prove it) but its
    access token goes out as Bearer, without a proof (RFC 9449 5)."""
    tokens = TokenSet(access_token="at", token_type=token_type, dpop_key=key)
    assert tokens.is_dpop_bound is bound
