"""Why a session ended: its own module, so that hooks and config can name it without
importing the session record."""

from __future__ import annotations

from enum import StrEnum


class EndReason(StrEnum):
    """Why a session is over; ``AuthContext.ended_reason`` tells the app."""

    SIGNED_OUT = "signed_out"
    EXPIRED = "expired"
    REFRESH_REJECTED = "refresh_rejected"
    REVOKED = "revoked"
    LOGGED_OUT_BY_PROVIDER = "logged_out_by_provider"
    # A refresh reached the provider but its answer never came: the refresh token may
    # have been rotated, and sending it again would revoke the whole token family.
    REFRESH_LOST = "refresh_lost"
