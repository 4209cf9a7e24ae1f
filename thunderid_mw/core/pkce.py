"""Proof Key for Code Exchange, S256 only (RFC 7636)."""

from __future__ import annotations

import hashlib

from .crypto import b64url


def code_verifier(random_bytes: bytes) -> str:
    """A verifier from 32+ random bytes: 43+ characters of the unreserved set (RFC 7636 4.1)."""
    if len(random_bytes) < 32:
        raise ValueError("a PKCE verifier needs at least 32 random bytes")
    return b64url(random_bytes)


def code_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` (RFC 7636 4.2, method S256)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())
