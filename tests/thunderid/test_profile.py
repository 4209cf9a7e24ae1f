"""The test IdP's ThunderID profile (IDP_PROFILE=thunderid) answers like ThunderID's server in
every point the middleware observes; plain httpx, no thunderid_mw."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc.jwk import KeySet, KeySetSerialization

from tests.support.idp import IdP, b64url, jwt_claims

REDIRECT_URI = "http://127.0.0.1:5999/callback"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def _post(idp: IdP, endpoint: str, data: dict[str, str], **kw: Any) -> httpx.Response:
    return httpx.post(idp.metadata[endpoint], data=data, verify=idp.verify, timeout=10, **kw)


def _basic(idp: IdP) -> tuple[str, str]:
    return (idp.conf_client_id, idp.conf_client_secret)


def _sign_in(idp: IdP) -> tuple[dict[str, Any], str]:
    """Code + PKCE flow for conf-client (Basic); returns (token answer, nonce sent)."""
    verifier = b64url(secrets.token_bytes(32))
    nonce = secrets.token_urlsafe(8)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": idp.conf_client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email",
            "state": "s",
            "nonce": nonce,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
    )
    with httpx.Client(verify=idp.verify) as browser:
        callback = idp.login(browser, f"{idp.metadata['authorization_endpoint']}?{query}")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert params["iss"] == idp.issuer  # RFC 9207
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    response = _post(idp, "token_endpoint", form, auth=_basic(idp))
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens, nonce


def _assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_discovery_keys_and_paths(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    meta = idp.metadata
    assert idp.issuer.startswith("https://")
    assert meta["token_endpoint"] == f"{idp.issuer}/oauth2/token"
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "account_switch" not in meta["grant_types_supported"]
    assert "backchannel_logout_supported" not in meta
    jwks = httpx.get(meta["jwks_uri"], verify=idp.verify).json()
    assert {key["alg"] for key in jwks["keys"]} == {"RS256", "ES256", "ML-DSA-44"}
    signing: KeySetSerialization = {"keys": [key for key in jwks["keys"] if key["kty"] != "AKP"]}
    for key in KeySet.import_key_set(signing).keys:
        assert key.kid == key.thumbprint()  # RFC 7638 thumbprints as kids


def test_sign_in_id_token_has_no_sid(idp_thunderid: IdP) -> None:
    tokens, nonce = _sign_in(idp_thunderid)
    claims = jwt_claims(tokens["id_token"])
    assert claims["nonce"] == nonce
    assert "auth_time" in claims
    assert "sid" not in claims


def test_refreshed_id_token_lacks_nonce_auth_time_acr(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    tokens, _ = _sign_in(idp)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    response = _post(idp, "token_endpoint", form, auth=_basic(idp))
    assert response.status_code == 200, response.text
    claims = jwt_claims(response.json()["id_token"])
    assert claims["sub"] == "user-alice"
    for name in ("nonce", "auth_time", "acr", "amr", "sid"):
        assert name not in claims, name


def test_bearer_authorization_is_invalid_client(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    tokens, _ = _sign_in(idp)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for endpoint in ("token_endpoint", "revocation_endpoint"):
        data = {**form, "client_id": idp.conf_client_id, "token": tokens["refresh_token"]}
        _assert_error(_post(idp, endpoint, data, headers=headers), 401, "invalid_client")


def test_one_auth_method_per_client(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    # conf-client is registered for Basic: its secret in the form is another method.
    other = {**form, "client_id": idp.conf_client_id, "client_secret": idp.conf_client_secret}
    _assert_error(_post(idp, "token_endpoint", other), 400, "unauthorized_client")
    both = _post(idp, "token_endpoint", other, auth=_basic(idp))
    _assert_error(both, 400, "invalid_request")
    wrong = _post(idp, "token_endpoint", form, auth=(idp.conf_client_id, "not-the-secret"))
    _assert_error(wrong, 401, "invalid_client")


def test_exchange_answers_access_token_only(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    tokens, _ = _sign_in(idp)
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": tokens["access_token"],
        "subject_token_type": ACCESS_TOKEN_TYPE,
    }
    response = _post(idp, "token_endpoint", form, auth=_basic(idp))
    assert response.status_code == 200, response.text
    assert set(response.json()) >= {"access_token", "issued_token_type", "token_type"}
    assert "id_token" not in response.json() and "refresh_token" not in response.json()
    bad = _post(idp, "token_endpoint", {**form, "subject_token": "nope"}, auth=_basic(idp))
    _assert_error(bad, 400, "invalid_request")


@pytest.mark.parametrize("grant_type", ["account_switch", "urn:example:custom"])
def test_unknown_grants(idp_thunderid: IdP, grant_type: str) -> None:
    idp = idp_thunderid
    response = _post(idp, "token_endpoint", {"grant_type": grant_type}, auth=_basic(idp))
    _assert_error(response, 400, "unsupported_grant_type")


def test_revocation_and_reuse_revoke_the_family(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    tokens, _ = _sign_in(idp)
    first = tokens["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": first}
    rotated = _post(idp, "token_endpoint", form, auth=_basic(idp)).json()
    reused = _post(idp, "token_endpoint", form, auth=_basic(idp))
    _assert_error(reused, 400, "invalid_grant")
    newer = {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}
    _assert_error(_post(idp, "token_endpoint", newer, auth=_basic(idp)), 400, "invalid_grant")

    tokens, _ = _sign_in(idp)
    data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    revoked = _post(idp, "revocation_endpoint", data, auth=_basic(idp))
    assert (revoked.status_code, revoked.content) == (200, b"")
    userinfo = httpx.get(
        idp.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        verify=idp.verify,
    )
    assert userinfo.status_code == 401  # the access token of the family is gone too


def test_unregistered_post_logout_uri_is_plain_text_400(idp_thunderid: IdP) -> None:
    idp = idp_thunderid
    tokens, _ = _sign_in(idp)
    query = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": "https://elsewhere.example/after",
    }
    response = httpx.get(idp.metadata["end_session_endpoint"], params=query, verify=idp.verify)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "post_logout_redirect_uri" in response.text
