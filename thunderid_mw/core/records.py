"""How a session record is written to and read from a store: optionally sealed with
AES-GCM, bound to its store key so a record cannot be moved to another session."""

from __future__ import annotations

from .crypto import NONCE_SIZE, Keys
from .session import SessionRecord

_SEALED = b"E"
_PLAIN = b"P"


class RecordCodec:
    def __init__(self, keys: Keys, encrypt: bool):
        self._keys = keys
        self._encrypt = encrypt

    @property
    def nonce_size(self) -> int:
        return NONCE_SIZE if self._encrypt else 0

    def encode(self, record: SessionRecord, store_key: str, nonce: bytes) -> bytes:
        raw = record.to_bytes()
        if not self._encrypt:
            return _PLAIN + raw
        return _SEALED + self._keys.seal(raw, nonce, store_key.encode())

    def decode(self, data: bytes, store_key: str) -> SessionRecord | None:
        """The record, or None for data that is unreadable, tampered with, or sealed for
        another key (all treated as no session)."""
        marker, body = data[:1], data[1:]
        if marker == _SEALED:
            opened = self._keys.open(body, store_key.encode())
            return None if opened is None else SessionRecord.from_bytes(opened)
        if marker == _PLAIN and not self._encrypt:
            return SessionRecord.from_bytes(body)
        return None
