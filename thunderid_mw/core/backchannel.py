"""OpenID Connect Back-Channel Logout 1.0: the provider POSTs a signed logout token and we
end the sessions it names (by ``sid``, else by ``sub``).

ThunderID does not send these yet; other providers do. Sessions are found through small
index records (``sid`` → session keys, ``sub`` → session keys) written at sign-in, keyed
by HMAC like everything else in the store. An index is a chain of pages of at most
``INDEX_PAGE_SIZE`` keys, so it holds every session of a user, however many.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import KeySet

from . import events
from .discovery import ProviderMetadata
from .effects import Flow, Load, Now, Save
from .env import WARNING, FlowEnv, Loaded
from .errors import IDTokenError
from .id_token import verified_claims
from .refresh import end_record
from .responses import NO_STORE, Response
from .session import EndReason

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
INDEX_PAGE_SIZE = 50
JTI_MEMORY = 600.0


@dataclass(frozen=True, slots=True)
class LogoutClaims:
    sub: str | None
    sid: str | None
    jti: str
    exp: float | None


def validate_logout_token(
    token: str,
    key_set: KeySet,
    *,
    issuer: str,
    client_id: str,
    now: float,
    leeway: int,
    algorithms: tuple[str, ...],
) -> LogoutClaims:
    """The claims of a valid logout token (Back-Channel Logout 1.0 section 2.6), or
    ``IDTokenError`` naming the failed check."""
    claims = verified_claims(
        token,
        key_set,
        what="logout token",
        issuer=issuer,
        client_id=client_id,
        now=now,
        leeway=leeway,
        algorithms=algorithms,
        essential=("iat", "jti"),
    )
    events = claims.get("events")
    if not isinstance(events, Mapping) or not isinstance(events.get(LOGOUT_EVENT), Mapping):
        raise IDTokenError("the logout token has no back-channel logout event")
    if "nonce" in claims:
        raise IDTokenError("a logout token must not contain a nonce")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not isinstance(sub, str) and not isinstance(sid, str):
        raise IDTokenError("the logout token names neither sub nor sid")
    exp = claims.get("exp")
    return LogoutClaims(
        sub=sub if isinstance(sub, str) else None,
        sid=sid if isinstance(sid, str) else None,
        jti=str(claims["jti"]),
        exp=float(exp) if isinstance(exp, int | float) else None,
    )


def index_names(claims: Mapping[str, Any]) -> list[str]:
    """The indexes a session with these ID-token claims belongs to."""
    return [
        f"{claim}\x00{claims[claim]}"
        for claim in ("sid", "sub")
        if isinstance(claims.get(claim), str)
    ]


def page_key(env: FlowEnv, index: str, page: int) -> str:
    """The store key of one page of an index (page 0 keeps the original single key)."""
    return env.keys.store_key_for("i", index if page == 0 else f"{index}\x00{page}")


def add_to_indexes(
    env: FlowEnv, session_key: str, claims: Mapping[str, Any], expires_at: float
) -> Flow[None]:
    """Record ``session_key`` under its sid and sub: on the first page with room
    (best effort, compare-and-set)."""
    for index in index_names(claims):
        page, attempts = 0, 0
        while attempts < 5:
            key = page_key(env, index, page)
            item = yield from _load_raw(key)
            members = _members(item.data) if item is not None else []
            if session_key in members:
                break
            if item is not None and len(members) >= INDEX_PAGE_SIZE:
                if item.expires_at < expires_at:
                    # A full page must live as long as the pages after it, or a lookup
                    # (which stops at the first missing page) would miss their sessions.
                    yield from _save_raw(key, item.data, expires_at, item.version)
                page += 1
                continue
            expected = item.version if item is not None else None
            until = max(expires_at, item.expires_at if item is not None else 0.0)
            data = json.dumps([*members, session_key]).encode()
            if (yield from _save_raw(key, data, until, expected)) is not None:
                break
            attempts += 1  # a concurrent sign-in wrote this page: read it again


def indexed_sessions(env: FlowEnv, index: str) -> Flow[list[str]]:
    """Every session key in ``index``, page by page until a page is missing."""
    found: list[str] = []
    page = 0
    while True:
        item = yield from _load_raw(page_key(env, index, page))
        if item is None:
            return found
        found += _members(item.data)
        page += 1


def logout_flow(env: FlowEnv, form: Mapping[str, str] | None) -> Flow[Response]:
    """Answer the provider's POST: 200 once the named sessions are ended, 400 otherwise."""
    token = (form or {}).get("logout_token")
    if not token:
        return _answer(400, "invalid_request", "logout_token is missing")
    config = env.config

    def check(key_set: KeySet, metadata: ProviderMetadata, now: float) -> LogoutClaims:
        return validate_logout_token(
            token,
            key_set,
            issuer=metadata.issuer,
            client_id=config.client_id,
            now=now,
            leeway=config.clock_skew,
            algorithms=metadata.id_token_signing_alg_values_supported,
        )

    try:
        claims = yield from env.with_key_set(check)
    except IDTokenError as exc:
        yield env.log(
            WARNING, f"back-channel logout rejected: {exc}", event=events.BACKCHANNEL_REJECTED
        )
        return _answer(400, "invalid_request", str(exc))
    now = yield Now()
    jti_key = env.keys.store_key_for("j", claims.jti)
    if (yield from _save_raw(jti_key, b"", max(claims.exp or 0.0, now) + JTI_MEMORY, None)) is None:
        return _answer(400, "invalid_request", "this logout token was already used")
    target = {"sid": claims.sid} if claims.sid else {"sub": claims.sub}
    for index in index_names(target):
        for session_key in (yield from indexed_sessions(env, index)):
            loaded = yield from env.load(session_key)
            if loaded is not None and _matches(loaded, claims):
                yield from end_record(env, session_key, loaded, EndReason.LOGGED_OUT_BY_PROVIDER)
    return Response(200, [NO_STORE, ("Content-Length", "0")])


def _matches(loaded: Loaded, claims: LogoutClaims) -> bool:
    """Both sub and sid must agree when the token names both (section 2.6, step 9)."""
    user = loaded.record.claims
    if claims.sub is not None and user.get("sub") != claims.sub:
        return False
    return claims.sid is None or user.get("sid") == claims.sid


def _members(data: bytes) -> list[str]:
    try:
        value = json.loads(data)
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _load_raw(key: str) -> Flow[Any]:
    item = yield Load(key)
    return item


def _save_raw(key: str, data: bytes, expires_at: float, expected: int | None) -> Flow[int | None]:
    version: int | None = yield Save(key, data, expires_at, expected)
    return version


def _answer(status: int, error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description}).encode()
    return Response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), NO_STORE],
        body,
    )
