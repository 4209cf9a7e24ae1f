"""Sealing with AES-GCM, store keys that hide session ids, and the record codec."""

from __future__ import annotations

from thunderid_mw.core.crypto import NONCE_SIZE, Keys, b64url, b64url_decode
from thunderid_mw.core.records import RecordCodec
from thunderid_mw.core.session import EndReason, SessionRecord

from .driver import SECRET, make_record

NONCE = b"\x01" * NONCE_SIZE
SID_A = "a" * 43
SID_B = "b" * 43


def keys() -> Keys:
    return Keys.from_secret(SECRET)


def test_seal_open_round_trip() -> None:
    k = keys()
    sealed = k.seal(b"payload", NONCE, b"ctx")
    assert b"payload" not in sealed
    assert k.open(sealed, b"ctx") == b"payload"


def test_tampered_data_does_not_open() -> None:
    k = keys()
    sealed = bytearray(k.seal(b"payload", NONCE, b"ctx"))
    for index in (0, NONCE_SIZE, len(sealed) - 1):
        changed = bytearray(sealed)
        changed[index] ^= 0x01
        assert k.open(bytes(changed), b"ctx") is None
    assert k.open(bytes(sealed[:-1]), b"ctx") is None
    assert k.open(b"short", b"ctx") is None


def test_other_context_or_secret_does_not_open() -> None:
    sealed = keys().seal(b"payload", NONCE, b"ctx")
    assert keys().open(sealed, b"other") is None
    assert Keys.from_secret("t" * 40).open(sealed, b"ctx") is None


def test_store_keys_hide_the_session_id_and_differ_per_session() -> None:
    k = keys()
    key_a = k.store_key_for("s", SID_A)
    key_b = k.store_key_for("s", SID_B)
    assert key_a.startswith("s:")
    assert key_a != key_b
    assert SID_A not in key_a
    assert key_a == k.store_key_for("s", SID_A)  # stable: every worker finds the session
    assert key_a != k.store_key_for("t", SID_A)  # kinds do not collide
    assert key_a != Keys.from_secret("t" * 40).store_key_for("s", SID_A)


def test_csrf_token_is_per_session() -> None:
    k = keys()
    assert k.csrf_token(SID_A) != k.csrf_token(SID_B)
    assert k.csrf_token(SID_A) == keys().csrf_token(SID_A)


def test_b64url() -> None:
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    assert b64url_decode("!!!") == b""  # characters outside the alphabet are dropped
    assert b64url_decode("a") is None  # a length no encoding has
    assert b64url_decode("ab!") is None


def test_record_codec_round_trip_sealed() -> None:
    codec = RecordCodec(keys(), encrypt=True)
    record = make_record(access_token="secret-access-token")
    key = keys().store_key_for("s", SID_A)
    data = codec.encode(record, key, NONCE)
    assert b"secret-access-token" not in data
    assert codec.decode(data, key) == record


def test_record_codec_tampered_is_none() -> None:
    codec = RecordCodec(keys(), encrypt=True)
    key = keys().store_key_for("s", SID_A)
    data = bytearray(codec.encode(make_record(), key, NONCE))
    data[-3] ^= 0x40
    assert codec.decode(bytes(data), key) is None
    assert codec.decode(b"", key) is None
    assert codec.decode(b"Xjunk", key) is None


def test_record_cannot_move_to_another_session() -> None:
    codec = RecordCodec(keys(), encrypt=True)
    key_a = keys().store_key_for("s", SID_A)
    key_b = keys().store_key_for("s", SID_B)
    data = codec.encode(make_record(), key_a, NONCE)
    assert codec.decode(data, key_b) is None


def test_plain_mode() -> None:
    codec = RecordCodec(keys(), encrypt=False)
    assert codec.nonce_size == 0
    key = keys().store_key_for("s", SID_A)
    record = make_record()
    data = codec.encode(record, key, b"")
    assert data.startswith(b"P")
    assert codec.decode(data, key) == record
    # A sealing codec does not accept plain data (no downgrade by writing plain records).
    assert RecordCodec(keys(), encrypt=True).decode(data, key) is None
    assert codec.decode(b"P{not json", key) is None


def test_record_bytes_round_trip_with_tombstone() -> None:
    tomb = make_record().tombstone(EndReason.REFRESH_REJECTED)
    assert tomb.tokens.access_token == ""
    assert tomb.tokens.refresh_token is None
    assert tomb.claims == {}
    assert SessionRecord.from_bytes(tomb.to_bytes()) == tomb
    assert SessionRecord.from_bytes(b'{"f": 99}') is None
    assert SessionRecord.from_bytes(b"[]") is None
