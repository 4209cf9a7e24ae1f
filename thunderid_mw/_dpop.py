"""The drivers' side of DPoP (RFC 9449): new per-session keys, fresh proofs (the clock and
the random ``jti`` the pure core/dpop.py is handed), and the servers' nonces."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import urlsplit

import httpx
from joserfc.jwk import ECKey

from .core.dpop import NONCE_HEADER, USE_DPOP_NONCE, make_proof

JTI_BYTES = 16


def new_key() -> str:
    """A new P-256 private key for one session, as JWK JSON text."""
    key = ECKey.generate_key("P-256", private=True)
    return json.dumps(key.as_dict(private=True))


class DPoPNonces:
    """The last nonce each server (origin) sent; a proof carries it once one is known."""

    def __init__(self) -> None:
        self._by_origin: dict[str, str] = {}

    def proof(
        self, private_jwk: str, method: str, url: str, access_token: str | None = None
    ) -> str:
        return make_proof(
            private_jwk,
            method,
            url,
            issued_at=time.time(),
            jti=os.urandom(JTI_BYTES),
            nonce=self._by_origin.get(_origin(url)),
            access_token=access_token,
        )

    def retry_with_nonce(self, url: str, response: httpx.Response) -> bool:
        """Remember the server's nonce; True when the answer refused the proof for lacking
        it (``use_dpop_nonce``, RFC 9449 8 and 9): send once more, with the nonce."""
        nonce = response.headers.get(NONCE_HEADER)
        if not nonce:
            return False
        self._by_origin[_origin(url)] = nonce
        if response.status_code == 401:
            return USE_DPOP_NONCE in response.headers.get("WWW-Authenticate", "")
        if response.status_code != 400:
            return False
        try:
            body = json.loads(response.content)
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("error") == USE_DPOP_NONCE


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
