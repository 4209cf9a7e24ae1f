"""Stable names of the events logged on the ``thunderid_mw`` logger.

Operators route and alert on these names, so they never change meaning; new ones are
added here (and to docs/deployment.md, checked by a test). A log line carries the event
name, a readable cause and short fields, never a token, code, secret or session id: a
session is named by ``Keys.session_tag`` (a non-reversible prefix of its store key)."""

from __future__ import annotations

from typing import Final

LOGGER_NAME: Final = "thunderid_mw"

# Configuration found wrong at run time (the operator must act).
CONFIG_CLIENT_REJECTED: Final = "config.client_rejected"
CONFIG_HOST_MISMATCH: Final = "config.host_mismatch"
# Pushing is configured or required, but the provider has no PAR endpoint (RFC 9126).
CONFIG_PAR_UNAVAILABLE: Final = "config.par_unavailable"
# The provider is not where or what the configuration says: https:// for plain http,
# another issuer.
CONFIG_PROVIDER_MISMATCH: Final = "config.provider_mismatch"
# The provider.
PROVIDER_UNREACHABLE: Final = "provider.unreachable"
PROVIDER_TLS: Final = "provider.tls"
PROVIDER_KEYS_SKIPPED: Final = "provider.keys_skipped"
# Sign-in, refresh, sign-out, back-channel logout.
SIGN_IN_FAILED: Final = "sign_in.failed"
SIGN_IN_CODE_REJECTED: Final = "sign_in.code_rejected"
SIGN_IN_PAR_REJECTED: Final = "sign_in.par_rejected"  # the PAR endpoint refused the request
SIGN_IN_REJECTED: Final = "sign_in.rejected"  # the app's on_sign_in hook refused the user
SIGN_IN_PARAMS_DROPPED: Final = "sign_in.params_dropped"  # a step-up value /sign-in refused
HOOK_FAILED: Final = "hook.failed"  # one of the app's hooks raised
PAGE_RENDER_FAILED: Final = "page.render_failed"  # the app's render_page raised
REFRESH_FAILED: Final = "refresh.failed"
REFRESH_UNAVAILABLE: Final = "refresh.unavailable"
REFRESH_CLAIMS_KEPT: Final = "refresh.claims_kept"
REFRESH_LOST: Final = "refresh.lost"  # the answer never came: the session ends
REFRESH_CONFIG_ERROR: Final = "refresh.config_error"  # the token endpoint refused the client
REFRESH_LEASE_LOST: Final = "refresh.lease_lost"
REFRESH_REJECTED: Final = "refresh.rejected"  # the provider refused the grant: session ended
CLOCK_SKEW: Final = "clock.skew"
STORE_WRITE_FAILED: Final = "store.write_failed"  # new tokens could not be saved
TOKEN_EXPIRY_UNKNOWN: Final = "token.expiry_unknown"
SIGN_OUT_REVOCATION_FAILED: Final = "sign_out.revocation_failed"
SIGN_OUT_PROVIDER_UNREACHABLE: Final = "sign_out.provider_unreachable"
SIGN_OUT_STATE_MISMATCH: Final = "sign_out.state_mismatch"  # back from the provider
BACKCHANNEL_REJECTED: Final = "backchannel.rejected"
# The session store.
STORE_UNAVAILABLE: Final = "store.unavailable"
# Anything not yet given its own name.
GENERAL: Final = "thunderid_mw"

ALL_EVENTS: Final = (
    CONFIG_CLIENT_REJECTED,
    CONFIG_HOST_MISMATCH,
    CONFIG_PAR_UNAVAILABLE,
    CONFIG_PROVIDER_MISMATCH,
    PROVIDER_UNREACHABLE,
    PROVIDER_TLS,
    PROVIDER_KEYS_SKIPPED,
    SIGN_IN_FAILED,
    SIGN_IN_CODE_REJECTED,
    SIGN_IN_PAR_REJECTED,
    SIGN_IN_REJECTED,
    SIGN_IN_PARAMS_DROPPED,
    HOOK_FAILED,
    PAGE_RENDER_FAILED,
    REFRESH_FAILED,
    REFRESH_UNAVAILABLE,
    REFRESH_CLAIMS_KEPT,
    REFRESH_LOST,
    REFRESH_CONFIG_ERROR,
    REFRESH_LEASE_LOST,
    REFRESH_REJECTED,
    CLOCK_SKEW,
    STORE_WRITE_FAILED,
    TOKEN_EXPIRY_UNKNOWN,
    SIGN_OUT_REVOCATION_FAILED,
    SIGN_OUT_PROVIDER_UNREACHABLE,
    SIGN_OUT_STATE_MISMATCH,
    BACKCHANNEL_REJECTED,
    STORE_UNAVAILABLE,
)


def render(event: str, message: str, fields: tuple[tuple[str, str], ...]) -> str:
    """The readable line: ``event: cause (name=value, ...)``."""
    line = f"{event}: {message}"
    if fields:
        line += " (" + ", ".join(f"{name}={value}" for name, value in fields) + ")"
    return line
