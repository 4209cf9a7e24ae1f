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


class ProviderKeySet(KeySet):
    """The provider's usable keys, and what it published that this library cannot use
    (``unusable``: kid -> "kty/alg"), e.g. ML-DSA keys (``kty: "AKP"``)."""

    def __init__(self, keys: list[Any], unusable: Mapping[str, str]):
        super().__init__(keys)
        self.unusable = dict(unusable)


def load_key_set(jwks: Mapping[str, Any]) -> ProviderKeySet:
    """The JWKS's keys one by one: a key of a type or algorithm we cannot use is skipped
    (and named in ``unusable``), so it cannot make the whole set unreadable."""
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise IDTokenError("the provider's JWKS could not be read: it has no 'keys' list")
    keys: list[Any] = []
    unusable: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        try:
            keys.append(KeySet.import_key_set({"keys": [dict(entry)]}).keys[0])
        except (JoseError, ValueError, TypeError, KeyError, AttributeError):
            kid = entry.get("kid")
            unusable[str(kid) if kid is not None else f"#{len(unusable)}"] = (
                f"{entry.get('kty', '?')}/{entry.get('alg', '?')}"
            )
    if not keys and entries:
        raise IDTokenError(
            "the provider's JWKS has no key this library can use: " + ", ".join(unusable.values())
        )
    return ProviderKeySet(keys, unusable)


def verified_claims(
    token: str,
    key_set: KeySet,
    *,
    what: str,
    issuer: str,
    client_id: str,
    now: float,
    leeway: int,
    algorithms: tuple[str, ...],
    essential: tuple[str, ...],
) -> dict[str, Any]:
    """The claims of a JWT from the provider whose signature, ``iss``, ``aud`` (includes
    this client), ``exp``/``iat`` (when present, with ``leeway``) and ``essential`` claims
    check out; ``IDTokenError`` naming the failed check otherwise. ``what`` names the token
    in messages ("ID token", "logout token")."""
    kid = _header_kid(token, what)
    unusable = getattr(key_set, "unusable", {})
    if kid is not None and kid in unusable:
        raise IDTokenError(
            f"the {what} is signed with a key this library cannot use ({unusable[kid]}); "
            "ask the provider to sign ID tokens with RS256 or ES256"
        )
    if kid is not None and not any(k.kid == kid for k in key_set.keys):
        raise UnknownSigningKey(f"the {what} is signed with an unknown key id {kid!r}")
    try:
        # Never "none", whatever the caller passes.
        allowed = [alg for alg in algorithms if alg.lower() != "none"]
        decoded = jwt.decode(token, key_set, algorithms=allowed or None)
    except MissingKeyError:
        raise UnknownSigningKey(f"no key in the provider's JWKS fits the {what}") from None
    except BadSignatureError:
        raise IDTokenError(f"the {what}'s signature is not valid") from None
    except (DecodeError, JoseError, ValueError) as exc:
        raise IDTokenError(f"the {what} could not be decoded: {exc}") from None
    claims = dict(decoded.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        **{name: {"essential": True} for name in essential},  # type: ignore[arg-type]
    )
    try:
        registry.validate(claims)
    except ClaimError as exc:
        raise IDTokenError(f"the {what}'s claims are not valid: {exc}") from None
    iat = claims.get("iat")
    if iat is not None and (not isinstance(iat, int | float) or iat > now + leeway):
        raise IDTokenError(f"the {what} was issued in the future (iat)")
    if client_id not in audiences(claims):
        raise IDTokenError(f"the {what}'s audience (aud) does not include this client")
    return claims


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []


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
    claims = verified_claims(
        id_token,
        key_set,
        what="ID token",
        issuer=issuer,
        client_id=client_id,
        now=now,
        leeway=leeway,
        algorithms=algorithms,
        essential=("sub", "exp", "iat"),
    )
    if len(audiences(claims)) > 1 and claims.get("azp") not in (None, client_id):
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


def _header_kid(token: str, what: str) -> str | None:
    head = token.split(".", 1)[0]
    raw = b64url_decode(head)
    try:
        header = json.loads(raw) if raw else None
    except ValueError:
        raise IDTokenError(f"the {what}'s header is not JSON") from None
    if not isinstance(header, dict):
        raise IDTokenError(f"the {what} is not a JWT")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None
