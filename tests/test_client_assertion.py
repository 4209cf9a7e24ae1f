"""``private_key_jwt``: the configuration, the core's token request, and the RFC 7523
assertion the drivers add (thunderid_mw/client_assertion.py). The real provider accepting
it: tests/tokens/test_private_key_jwt.py."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from thunderid_mw import ThunderIDClient, ThunderIDConfig
from thunderid_mw._http import request_args
from thunderid_mw.client_assertion import (
    ASSERTION_LIFETIME,
    ClientAssertionSigner,
    assertion_signer,
)
from thunderid_mw.core.config_env import ENV_SETTINGS
from thunderid_mw.core.effects import HttpCall
from thunderid_mw.core.errors import ConfigError
from thunderid_mw.core.tokens import CLIENT_ASSERTION_TYPE, build_token_request
from thunderid_mw.stores import MemoryStore

ISSUER = "https://idp.example/oauth2/token-issuer"
EC_KEY = ECKey.generate_key("P-256", {"kid": "ec-1"}, private=True)
RSA_KEY = RSAKey.generate_key(2048, {"kid": "rsa-1"}, private=True)
EC_PEM = EC_KEY.as_pem(private=True).decode()


def _config(**changes: Any) -> ThunderIDConfig:
    values: dict[str, Any] = {
        "client_id": "app",
        "after_sign_in_url": "http://127.0.0.1:1/callback",
        "secret": "master-secret-VALUE-0123456789-abcdef",
        "store": MemoryStore(),
        "token_endpoint_auth_method": "private_key_jwt",
        "client_private_key": EC_PEM,
    }
    values.update(changes)
    return ThunderIDConfig(**values)


def _claims(assertion: str, key: ECKey | RSAKey) -> tuple[dict[str, Any], dict[str, Any]]:
    token = jwt.decode(assertion, key, algorithms=["ES256", "RS256"])
    return dict(token.header), dict(token.claims)


@pytest.mark.parametrize(
    ("key", "text", "alg", "kid"),
    [
        (EC_KEY, EC_PEM, "ES256", None),  # PEM carries no kid
        (EC_KEY, json.dumps(EC_KEY.as_dict(private=True)), "ES256", "ec-1"),
        (RSA_KEY, RSA_KEY.as_pem(private=True).decode(), "RS256", None),
        (RSA_KEY, json.dumps(RSA_KEY.as_dict(private=True)), "RS256", "rsa-1"),
    ],
)
def test_the_assertion_is_rfc_7523_with_the_issuer_as_audience(
    key: ECKey | RSAKey, text: str, alg: str, kid: str | None
) -> None:
    signer = ClientAssertionSigner("app", text)
    header, claims = _claims(signer.sign(ISSUER), key)
    assert header["alg"] == alg and header.get("kid") == kid
    assert claims["iss"] == claims["sub"] == "app"
    assert claims["aud"] == ISSUER  # a single string, as ThunderID checks it
    assert claims["exp"] - claims["iat"] == ASSERTION_LIFETIME
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16


def test_every_assertion_has_a_fresh_jti() -> None:
    signer = ClientAssertionSigner("app", EC_PEM)
    jtis = {_claims(signer.sign(ISSUER), EC_KEY)[1]["jti"] for _ in range(20)}
    assert len(jtis) == 20


def test_the_configured_key_id_wins() -> None:
    signer = assertion_signer(_config(client_private_key_id="registered-kid"))
    assert signer is not None
    assert _claims(signer.sign(ISSUER), EC_KEY)[0]["kid"] == "registered-kid"


@pytest.mark.parametrize(
    "text",
    [
        "not a key",
        EC_KEY.as_pem(private=False).decode(),  # the public half
        json.dumps(EC_KEY.as_dict(private=False)),
        json.dumps(OctKey.generate_key(256).as_dict(private=True)),  # a shared secret
        '{"kty": "RSA", "n": "broken"',
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ],
    # Named ids: the keys are made at import, and xdist workers must collect the same ids.
    ids=["text", "public-pem", "public-jwk", "shared-secret", "broken-json", "broken-pem"],
)
def test_a_key_that_cannot_sign_stops_the_client_at_start_up(text: str) -> None:
    with pytest.raises(ConfigError, match="client_private_key") as caught:
        ThunderIDClient(_config(client_private_key=text))
    assert text not in str(caught.value)


def test_private_key_jwt_without_a_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="private_key_jwt needs client_private_key"):
        _config(client_private_key=None)


def test_a_key_without_a_secret_means_private_key_jwt() -> None:
    config = _config(token_endpoint_auth_method=None)
    assert config.auth_method == "private_key_jwt"
    assert dataclasses.replace(config, client_private_key=None).auth_method == "none"


def test_the_key_is_never_shown() -> None:
    config = _config()
    client = ThunderIDClient(config)
    signer = assertion_signer(config)
    secret_part = EC_KEY.as_dict(private=True)["d"]
    assert isinstance(secret_part, str)
    for obj in (config, client, signer):
        assert "PRIVATE KEY" not in repr(obj) and secret_part not in repr(obj)
    client.close()


def test_the_env_vars_set_the_key_and_the_method() -> None:
    config = ThunderIDConfig.from_env(
        {
            "THUNDERID_CLIENT_ID": "app",
            "THUNDERID_AFTER_SIGN_IN_URL": "http://127.0.0.1:1/callback",
            "THUNDERID_SECRET": "master-secret-VALUE-0123456789-abcdef",
            "THUNDERID_TOKEN_ENDPOINT_AUTH_METHOD": "private_key_jwt",
            "THUNDERID_CLIENT_PRIVATE_KEY": EC_PEM,
            "THUNDERID_CLIENT_PRIVATE_KEY_ID": "kid-1",
        }
    )
    assert config.auth_method == "private_key_jwt"
    assert config.client_private_key == EC_PEM and config.client_private_key_id == "kid-1"
    assert ENV_SETTINGS["CLIENT_PRIVATE_KEY"].target == "client_private_key"


def test_the_core_asks_for_an_assertion_and_sends_no_secret() -> None:
    request = build_token_request(
        "https://idp.example/token",
        {"grant_type": "refresh_token", "refresh_token": "r"},
        method="private_key_jwt",
        client_id="app",
        client_secret=None,
    )
    assert request.client_assertion is True
    assert request.form["client_id"] == "app"
    assert request.form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert "client_secret" not in request.form and "Authorization" not in request.headers
    basic = build_token_request(
        "https://idp.example/token",
        {},
        method="client_secret_basic",
        client_id="app",
        client_secret="s",
    )
    assert basic.client_assertion is False


def test_the_driver_adds_the_assertion_to_the_form_only_when_asked() -> None:
    call = HttpCall("POST", "https://idp.example/token", "token endpoint", {}, {"a": "1"})
    assert request_args(call, "signed")["data"] == {"a": "1", "client_assertion": "signed"}
    assert request_args(call)["data"] == {"a": "1"}
