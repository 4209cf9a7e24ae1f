"""DPoP proofs (RFC 9449): a JWT signed with the session's own key, naming the HTTP method
and URL of one request, so a stolen access token is useless without the key. Pure: the
caller hands in the key, the time and the random ``jti``."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jwt
from joserfc.jwk import ECKey

from .crypto import b64url

ALGORITHM = "ES256"  # P-256: every DPoP server supports it (oidc-provider, ThunderID)
#: The header a server sends a nonce in, and the error that asks for one (RFC 9449 8).
NONCE_HEADER = "DPoP-Nonce"
USE_DPOP_NONCE = "use_dpop_nonce"


def load_key(private_jwk: str) -> ECKey:
    """The session's key from its stored JWK text."""
    return ECKey.import_key(json.loads(private_jwk))


def target_uri(url: str) -> str:
    """``htu``: the request URL without its query and fragment (RFC 9449 4.2)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token (RFC 9449 4.2)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def thumbprint(private_jwk: str) -> str:
    """The key's RFC 7638 thumbprint: ``cnf.jkt`` of the tokens bound to it."""
    return load_key(private_jwk).thumbprint()


def make_proof(
    private_jwk: str,
    method: str,
    url: str,
    *,
    issued_at: float,
    jti: bytes,
    nonce: str | None = None,
    access_token: str | None = None,
) -> str:
    """A proof for one request; with ``access_token`` (a resource request) it carries
    ``ath``, with ``nonce`` the server's last nonce."""
    key = load_key(private_jwk)
    header = {"typ": "dpop+jwt", "alg": ALGORITHM, "jwk": key.as_dict(private=False)}
    claims: dict[str, Any] = {
        "jti": b64url(jti),
        "htm": method.upper(),
        "htu": target_uri(url),
        "iat": int(issued_at),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM])
