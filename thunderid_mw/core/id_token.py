"""ID token validation (OpenID Connect Core 3.1.3.7) with joserfc.

The signature is checked against the provider's JWKS; a ``kid`` the key set does not have
raises ``UnknownSigningKey`` so the caller can fetch the JWKS again once (key rotation)
and retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    JoseError,
    MissingKeyError,
)
from joserfc.jwk import KeySet

from .crypto import b64url_decode
from .errors import IDTokenError


class UnknownSigningKey(IDTokenError):
    """The token names a key the JWKS does not hold (yet)."""


def load_key_set(jwks: Mapping[str, Any]) -> KeySet:
    try:
        return KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise IDTokenError(f"the provider's JWKS could not be read: {exc}") from None


def validate_id_token(
    id_token: str,
    key_set: KeySet,
    *,
    issuer: str,
    client_id: str,
    now: float,
    leeway: int,
    nonce: str | None,
    algorithms: tuple[str, ...],
) -> dict[str, Any]:
    """The claims of a valid ID token, or ``IDTokenError`` naming the failed check.

    ``nonce=None`` means no nonce is expected (refresh and token-exchange responses); any
    other value must match exactly.
    """
    kid = _header_kid(id_token)
    if kid is not None and not any(k.kid == kid for k in key_set.keys):
        raise UnknownSigningKey(f"the ID token is signed with an unknown key id {kid!r}")
    try:
        # Never "none", whatever the caller passes.
        allowed = [alg for alg in algorithms if alg.lower() != "none"]
        token = jwt.decode(id_token, key_set, algorithms=allowed or None)
    except MissingKeyError:
        raise UnknownSigningKey("no key in the provider's JWKS fits the ID token") from None
    except BadSignatureError:
        raise IDTokenError("the ID token's signature is not valid") from None
    except (DecodeError, JoseError, ValueError) as exc:
        raise IDTokenError(f"the ID token could not be decoded: {exc}") from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ClaimError as exc:
        raise IDTokenError(f"the ID token's claims are not valid: {exc}") from None
    iat = claims["iat"]
    if not isinstance(iat, int | float) or iat > now + leeway:
        raise IDTokenError("the ID token was issued in the future (iat)")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise IDTokenError("the ID token's audience (aud) does not include this client")
    if len(audiences) > 1 and claims.get("azp") not in (None, client_id):
        raise IDTokenError("the ID token's authorized party (azp) is another client")
    if nonce is not None and claims.get("nonce") != nonce:
        raise IDTokenError("the ID token's nonce does not match this sign-in")
    return claims


def decode_unverified_claims(id_token: str) -> dict[str, Any]:
    """Claims of a token already validated earlier (e.g. stored at sign-in); no checks."""
    parts = id_token.split(".")
    if len(parts) != 3:
        return {}
    raw = b64url_decode(parts[1])
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _header_kid(id_token: str) -> str | None:
    head = id_token.split(".", 1)[0]
    raw = b64url_decode(head)
    try:
        header = json.loads(raw) if raw else None
    except ValueError:
        raise IDTokenError("the ID token's header is not JSON") from None
    if not isinstance(header, dict):
        raise IDTokenError("the ID token is not a JWT")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None
