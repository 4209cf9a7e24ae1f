"""``private_key_jwt`` (RFC 7523 section 2.2, OIDC Core section 9): the signed client
assertion the drivers add to token, revocation and introspection requests. Built with
authlib; the key is read once, at start-up, and never shown."""

from __future__ import annotations

import json
from collections.abc import Iterable

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from .core.config import ThunderIDConfig
from .core.errors import ConfigError

#: How long an assertion is valid: long enough for one request, too short to be replayed.
ASSERTION_LIFETIME = 60

_ALG_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "Ed25519": "EdDSA"}

Key = RSAKey | ECKey | OKPKey


class ClientAssertionSigner:
    """Signs one fresh assertion per request: ``iss`` = ``sub`` = client_id, ``aud`` = the
    issuer as a single string (what ThunderID checks), a random ``jti``, ``exp`` 60 s."""

    def __init__(self, client_id: str, private_key: str, key_id: str | None = None):
        self.client_id = client_id
        self._key = _load_key(private_key)
        self.key_id = key_id or self._key.kid
        self.alg = _algorithm(self._key)

    def __repr__(self) -> str:  # never shows the key
        return f"ClientAssertionSigner(client_id={self.client_id!r}, kid={self.key_id!r})"

    def sign(self, audience: str) -> str:
        # authlib is imported by the apps that use private_key_jwt only (import time).
        from authlib.oauth2.rfc7523 import (  # type: ignore[import-untyped]
            private_key_jwt_sign,
        )

        header = {"alg": self.alg, "typ": "JWT"}
        if self.key_id:
            header["kid"] = self.key_id
        assertion = private_key_jwt_sign(
            self._key,
            self.client_id,
            audience,
            alg=self.alg,
            header=header,
            expires_in=ASSERTION_LIFETIME,
        )
        return assertion if isinstance(assertion, str) else assertion.decode()


def assertion_signer(config: ThunderIDConfig) -> ClientAssertionSigner | None:
    """The signer ``config`` asks for, or None when it does not use ``private_key_jwt``;
    ``ConfigError`` for a key that cannot sign."""
    if config.auth_method != "private_key_jwt" or not config.client_private_key:
        return None
    return ClientAssertionSigner(
        config.client_id, config.client_private_key, config.client_private_key_id
    )


def _load_key(text: str) -> Key:
    stripped = text.strip()
    kinds: dict[str, type[Key]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}
    try:
        if stripped.startswith("{"):
            jwk = json.loads(stripped)
            kind = kinds.get(str(jwk.get("kty"))) if isinstance(jwk, dict) else None
            if kind is None:
                raise ConfigError("client_private_key: a JWK with kty RSA, EC or OKP is needed")
            key: Key = kind.import_key(jwk)
        else:
            key = _import_pem(stripped.encode(), kinds.values())
    except (ValueError, TypeError, KeyError, JoseError) as exc:
        # The message names the problem, never the key material.
        raise ConfigError(
            f"client_private_key is not a PEM or JWK private key ({type(exc).__name__})"
        ) from None
    if not key.is_private:
        raise ConfigError("client_private_key is a public key; the private key is needed")
    return key


def _import_pem(pem: bytes, kinds: Iterable[type[Key]]) -> Key:
    for kind in kinds:
        try:
            return kind.import_key(pem)
        except (ValueError, TypeError, JoseError):
            continue
    raise ValueError("not an RSA, EC or OKP key")


def _algorithm(key: Key) -> str:
    alg = key.get("alg")
    if isinstance(alg, str):
        return alg
    if isinstance(key, RSAKey):
        return "RS256"
    curve = key.get("crv")
    if isinstance(curve, str) and curve in _ALG_BY_CURVE:
        return _ALG_BY_CURVE[curve]
    raise ConfigError(f"client_private_key: no signing algorithm for curve {curve!r}")
