"""Keys derived from the configured secret, and what they protect.

* store keys: ``HMAC(secret-derived key, session id)`` so a store dump does not contain
  live session ids (a cookie cannot be rebuilt from a key);
* sealed blobs: AES-256-GCM for tokens at rest and for sign-in transaction cookies.

Randomness (GCM nonces) is handed in by the caller: the core draws none itself.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_SIZE = 12


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True, slots=True, repr=False)
class Keys:
    store_key: bytes
    csrf_key: bytes
    aead: AESGCM

    def __repr__(self) -> str:
        return "Keys(<redacted>)"

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        raw = secret.encode()
        return cls(
            store_key=_derive(raw, b"thunderid-mw store key v1"),
            csrf_key=_derive(raw, b"thunderid-mw csrf v1"),
            aead=AESGCM(_derive(raw, b"thunderid-mw aead v1")),
        )

    def store_key_for(self, kind: str, value: str) -> str:
        """The store key of a session (``kind="s"``) or transaction (``kind="t"``)."""
        digest = hmac.digest(self.store_key, value.encode(), "sha256")
        return kind + ":" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def session_tag(self, session_id: str) -> str:
        """A short, non-reversible name of a session for log lines: the first characters
        of its store key, so an operator can find the row without seeing the id."""
        return tag_of_key(self.store_key_for("s", session_id))

    def csrf_token(self, session_id: str) -> str:
        digest = hmac.digest(self.csrf_key, session_id.encode(), "sha256")
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def seal(self, plaintext: bytes, nonce: bytes, context: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext``, bound to ``context`` (e.g. the store key)."""
        return nonce + self.aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes | None:
        """The plaintext, or None when ``sealed`` was tampered with or sealed elsewhere."""
        if len(sealed) < NONCE_SIZE + 16:
            return None
        try:
            return self.aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], context)
        except InvalidTag:
            return None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


def tag_of_key(store_key: str) -> str:
    """``Keys.session_tag`` from a session's store key (``s:<hmac>``)."""
    return store_key[2:12]
