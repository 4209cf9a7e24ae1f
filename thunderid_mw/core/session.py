"""The session record: what the store keeps for one signed-in browser, and its lifetime."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .end_reason import EndReason as EndReason  # re-exported: its old home
from .tokens import TokenSet

RECORD_FORMAT = 1


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session. ``ended`` is set on a tombstone: a record kept for a while after the
    session ended, so the next request can be told why."""

    tokens: TokenSet
    claims: Mapping[str, Any]
    created_at: float
    last_seen: float
    absolute_expires_at: float
    ended: EndReason | None = None

    def deadline(self, idle_timeout: float) -> float:
        """When this session ends if nothing refreshes it: the earliest of the idle limit,
        the absolute limit and the refresh token's expiry. Without a refresh token the
        session cannot outlive its access token."""
        end = min(self.last_seen + idle_timeout, self.absolute_expires_at)
        tokens = self.tokens
        if tokens.refresh_token is None:
            if tokens.expires_at is not None:
                end = min(end, tokens.expires_at)
        elif tokens.refresh_expires_at is not None:
            end = min(end, tokens.refresh_expires_at)
        return end

    def touched(self, now: float) -> SessionRecord:
        return replace(self, last_seen=now)

    def with_tokens(
        self, tokens: TokenSet, claims: Mapping[str, Any] | None = None
    ) -> SessionRecord:
        return replace(self, tokens=tokens, claims=self.claims if claims is None else claims)

    def tombstone(self, reason: EndReason) -> SessionRecord:
        """The ended form: no tokens kept, only why and who."""
        return SessionRecord(
            tokens=TokenSet(access_token=""),
            claims={},
            created_at=self.created_at,
            last_seen=self.last_seen,
            absolute_expires_at=self.absolute_expires_at,
            ended=reason,
        )

    # Serialisation: compact JSON; decoded once per stored version (see the client's cache).

    def to_bytes(self) -> bytes:
        t = self.tokens
        doc = {
            "f": RECORD_FORMAT,
            "at": t.access_token,
            "tt": t.token_type,
            "ae": t.expires_at,
            "rt": t.refresh_token,
            "it": t.id_token,
            "sc": list(t.scopes),
            "re": t.refresh_expires_at,
            "dk": t.dpop_key,
            "cl": dict(self.claims),
            "ca": self.created_at,
            "ls": self.last_seen,
            "ax": self.absolute_expires_at,
            "en": None if self.ended is None else self.ended.value,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionRecord | None:
        """The record, or None when ``data`` is not a record of a format we know."""
        try:
            doc = json.loads(data)
            if doc.get("f") != RECORD_FORMAT:
                return None
            tokens = TokenSet(
                access_token=doc["at"],
                token_type=doc["tt"],
                expires_at=doc["ae"],
                refresh_token=doc["rt"],
                id_token=doc["it"],
                scopes=tuple(doc["sc"]),
                refresh_expires_at=doc["re"],
                dpop_key=doc.get("dk"),
            )
            return cls(
                tokens=tokens,
                claims=doc["cl"],
                created_at=doc["ca"],
                last_seen=doc["ls"],
                absolute_expires_at=doc["ax"],
                ended=None if doc["en"] is None else EndReason(doc["en"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def user_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims worth keeping for ``ctx.user`` (protocol-only claims dropped)."""
    protocol = {"nonce", "at_hash", "c_hash", "s_hash"}
    return {k: v for k, v in claims.items() if k not in protocol}


# Claims about the authentication event: only the sign-in can tell them.
SIGN_IN_CLAIMS = ("auth_time", "acr", "amr")


def refreshed_claims(signed_in: Mapping[str, Any], refreshed: Mapping[str, Any]) -> dict[str, Any]:
    """``ctx.user`` after a refresh: the refreshed ID token's claims win where present, and
    the rest is kept. A refreshed ID token may leave out what only the sign-in could say
    (ThunderID's has no ``auth_time``, ``acr`` or ``nonce``), and that stays true for the
    whole session: ``auth_time``, ``acr`` and ``amr`` must survive every refresh. They describe
    the sign-in itself (OIDC Core 12.2: auth_time is the original authentication's), so the
    sign-in's values win even over a refreshed token that sends them again."""
    merged = {**signed_in, **user_claims(refreshed)}
    merged.update({name: signed_in[name] for name in SIGN_IN_CLAIMS if name in signed_in})
    return merged
