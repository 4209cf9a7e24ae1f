"""PKCE S256 (RFC 7636)."""

from __future__ import annotations

import re

import pytest

from thunderid_mw.core.pkce import code_challenge, code_verifier

# RFC 7636 appendix B.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
RFC_OCTETS = bytes(
    [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
     22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]
)  # fmt: skip


def test_rfc7636_appendix_b() -> None:
    assert code_verifier(RFC_OCTETS) == RFC_VERIFIER
    assert code_challenge(RFC_VERIFIER) == RFC_CHALLENGE


@pytest.mark.parametrize("size", [32, 48, 96])
def test_verifier_length_and_charset(size: int) -> None:
    verifier = code_verifier(bytes(range(size)))
    assert 43 <= len(verifier) <= 128
    assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)


def test_verifier_needs_enough_entropy() -> None:
    with pytest.raises(ValueError, match="at least 32 random bytes"):
        code_verifier(b"\x00" * 31)
