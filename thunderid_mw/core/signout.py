"""Ending a session: token revocation (RFC 7009), the local tombstone, and the
RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from . import events
from .config import ThunderIDConfig
from .discovery import ProviderMetadata
from .effects import Flow
from .env import WARNING, FlowEnv, Loaded
from .errors import ProviderError
from .hooks import SignOutEvent, run_hook
from .refresh import end_record
from .session import EndReason, SessionRecord
from .tokens import TokenSet


def revoke_tokens(env: FlowEnv, tokens: TokenSet) -> Flow[bool]:
    """Revoke the refresh token (which revokes its grant at most providers) and the access
    token. Failures are logged and reported as False, never raised: a dead revocation
    endpoint must not keep a user signed in locally."""
    try:
        endpoint = (yield from env.provider()).revocation_endpoint
    except ProviderError as exc:
        yield env.log(
            WARNING,
            f"revocation failed: the provider is unreachable ({exc})",
            event=events.SIGN_OUT_REVOCATION_FAILED,
        )
        return False
    if endpoint is None:
        yield env.log(
            WARNING,
            "the provider has no revocation endpoint; tokens not revoked",
            event=events.SIGN_OUT_REVOCATION_FAILED,
        )
        return False
    ok = True
    for token, hint in (
        (tokens.refresh_token, "refresh_token"),
        (tokens.access_token, "access_token"),
    ):
        if not token:
            continue
        request = env.token_request({"token": token, "token_type_hint": hint}, url=endpoint)
        try:
            response = yield from env.post(request, "revocation endpoint")
        except ProviderError as exc:
            yield env.log(
                WARNING, f"revocation failed: {exc}", event=events.SIGN_OUT_REVOCATION_FAILED
            )
            ok = False
            continue
        # RFC 7009 2.2: 200 means revoked (or already invalid).
        if response.status != 200:
            yield env.log(
                WARNING,
                f"revocation endpoint answered HTTP {response.status}",
                event=events.SIGN_OUT_REVOCATION_FAILED,
            )
            ok = False
    return ok


def end_session(
    env: FlowEnv, key: str, reason: EndReason, *, revoke: bool
) -> Flow[SessionRecord | None]:
    """End the session stored under ``key``; returns the record as it was (for the
    ``id_token_hint``), or None if there was no live session. The session ends locally
    first: revocation needs the provider, which may be down, and must not keep anyone
    signed in."""
    loaded = yield from env.load(key)
    if loaded is None or loaded.record.ended is not None:
        return None
    yield from end_record(env, key, Loaded(loaded.record, loaded.version), reason)
    if revoke:
        yield from revoke_tokens(env, loaded.record.tokens)
    if reason is EndReason.SIGNED_OUT and revoke:  # the user's own sign-out
        event = SignOutEvent(loaded.record.claims)
        yield from run_hook(env.config.hooks.on_sign_out, event, "on_sign_out")
    return loaded.record


def sign_out_target(env: FlowEnv, id_token: str | None, state: str | None = None) -> Flow[str]:
    """The end-session URL (carrying ``state`` when given), or ``post_sign_out_url`` when
    the provider cannot be reached (the local sign-out has happened; the provider's
    session is left as it is)."""
    try:
        metadata = yield from env.provider()
    except ProviderError as exc:
        yield env.log(
            WARNING,
            f"signed out locally; the provider is unreachable ({exc})",
            event=events.SIGN_OUT_PROVIDER_UNREACHABLE,
        )
        return env.config.post_sign_out_url
    return end_session_url(env.config, metadata, id_token, state)


def end_session_url(
    config: ThunderIDConfig,
    metadata: ProviderMetadata,
    id_token: str | None,
    state: str | None = None,
) -> str:
    """Where to send the browser after a local sign-out; ``state`` comes back with it."""
    target = config.post_sign_out_url
    endpoint = metadata.end_session_endpoint
    if endpoint is None:
        return target
    params = {"post_logout_redirect_uri": target}
    hint = config.end_session_hint
    if hint in ("both", "client_id") or not id_token:
        # Without an ID token the client_id is the only way to say whose redirect URI it is.
        params["client_id"] = config.client_id
    if id_token and hint in ("both", "id_token_hint"):
        params["id_token_hint"] = id_token
    if state:
        params["state"] = state
    separator = "&" if "?" in endpoint else "?"
    return endpoint + separator + urlencode(params)


def sign_out_state_matches(returned: str | None, expected: str | None) -> bool:
    """Whether the ``state`` the provider sent back is the one this browser's sign-out
    cookie holds (both present)."""
    return bool(returned and expected) and hmac.compare_digest(
        str(returned).encode(), str(expected).encode()
    )
