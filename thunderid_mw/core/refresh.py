"""Single-flight refresh (RFC 6749 section 6) for providers that rotate refresh tokens and
revoke the whole family when an old one comes back (ThunderID does).

For one session, at most one refresh-token grant is in flight across threads, tasks,
processes and hosts: the caller must hold the store lease ``refresh:<key>``. Everyone
else waits for the holder's result in the store. Rules:

* under the lease, re-read the session first: a sibling may have refreshed already
  (its access token differs from the one we saw) — then use its result;
* write the new tokens with compare-and-set; a lost race re-applies them to the newer
  record (a touch may have landed in between) instead of overwriting it;
* on ``invalid_grant``, re-read before declaring the session dead (a sibling on another
  host may have rotated the token under an expired lease);
* an unreachable IdP or a 5xx keeps the session for a later try;
* a refresh that may have reached the provider is never sent again with the same refresh
  token: the holder waits for the answer up to ``refresh_timeout`` with its lease kept
  alive, and if no answer comes the session ends as ``refresh_lost``;
* the provider's answer is stored before anything else is done with it (a worker that
  dies after that loses nothing), and a failed write is retried with the new tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import events
from .crypto import b64url, tag_of_key
from .effects import (
    AcquireLock,
    Flow,
    LeaseHold,
    Now,
    RandomBytes,
    RefreshFailedAt,
    ReleaseLock,
    Sleep,
)
from .env import ERROR, INFO, WARNING, FlowEnv, Loaded
from .errors import (
    IDTokenError,
    OutcomeUnknown,
    ProviderError,
    ProviderMisconfigured,
    StoreContention,
    StoreUnavailable,
    TokenEndpointError,
)
from .hooks import SessionEndEvent, run_hook
from .session import EndReason, SessionRecord, refreshed_claims
from .token_state import RefreshOutcome, TokenState, classify
from .tokens import NOT_AN_OAUTH_ERROR, TokenSet, parse_token_response

POLL_FIRST = 0.01
POLL_MAX = 0.1
MAX_CAS_RETRIES = 5
REFRESHING_ELSEWHERE = "refreshing elsewhere"  # the detail of a background refresh that gave way
WAITED_TOO_LONG = "timed out waiting for a refresh"
# Details of an UNAVAILABLE result that say nothing about the provider's health.
NOT_A_PROVIDER_FAILURE = (REFRESHING_ELSEWHERE, WAITED_TOO_LONG)
STORE_WRITE_RETRIES = 4  # a failed write of freshly issued tokens, tried again this often
STORE_RETRY_PAUSE = 0.25
# Errors about the client, not the grant: a configuration problem, never the user's.
CLIENT_ERRORS = ("invalid_client", "unauthorized_client", "unsupported_grant_type")


@dataclass(frozen=True, slots=True)
class RefreshResult:
    outcome: RefreshOutcome
    loaded: Loaded | None  # the session after the attempt (None: gone from the store)
    detail: str = ""


def refresh_lock_name(key: str) -> str:
    return "refresh:" + key


def refresh(
    env: FlowEnv,
    key: str,
    seen: Loaded,
    *,
    force: bool = False,
    lock_wait: float | None = None,
) -> Flow[RefreshResult]:
    """Refresh ``seen``'s tokens once for everyone. ``force`` refreshes even a token that
    looks fresh (an API rejected it), unless a sibling already replaced it. ``lock_wait=0``
    (the background refresh) gives up at once when another worker holds the lease: that
    worker's result will appear in the store."""
    config = env.config
    owner = b64url((yield RandomBytes(16)))
    name = refresh_lock_name(key)
    start = yield Now()
    deadline = start + (config.refresh_wait_timeout if lock_wait is None else lock_wait)
    poll = POLL_FIRST
    while True:
        now = yield Now()
        acquired = yield AcquireLock(
            name, owner, config.effective_lock_lease, max(0.0, deadline - now)
        )
        if acquired:
            break
        if lock_wait == 0:
            return RefreshResult(RefreshOutcome.UNAVAILABLE, seen, REFRESHING_ELSEWHERE)
        # Another worker holds the lease: its result will appear in the store.
        current = yield from env.load(key)
        settled = _settled_by_sibling(env, seen, current, now, force)
        if settled is not None:
            return settled
        if now >= deadline:
            return RefreshResult(RefreshOutcome.UNAVAILABLE, current or seen, WAITED_TOO_LONG)
        yield Sleep(poll)
        poll = min(poll * 2, POLL_MAX)
    try:
        return (yield from _refresh_holding_lock(env, key, seen, force, owner))
    finally:
        yield ReleaseLock(name, owner)


def await_refresh(
    env: FlowEnv, key: str, seen: Loaded, *, force: bool = False
) -> Flow[RefreshResult]:
    """Wait (polling the store, at most ``refresh_wait_timeout``) for the background
    refresh of ``seen`` to land, whichever worker runs it. Never sends a refresh itself."""
    start = yield Now()
    deadline = start + env.config.refresh_wait_timeout
    poll = POLL_FIRST
    while True:
        now = yield Now()
        current = yield from env.load(key)
        settled = _settled_by_sibling(env, seen, current, now, force)
        if settled is not None:
            return settled
        if (yield RefreshFailedAt(key)) >= start:
            return RefreshResult(
                RefreshOutcome.UNAVAILABLE, current or seen, "the identity provider failed"
            )
        if now >= deadline:
            return RefreshResult(
                RefreshOutcome.UNAVAILABLE, current or seen, "timed out waiting for a refresh"
            )
        yield Sleep(poll)
        poll = min(poll * 2, POLL_MAX)


def hold_refresh_lock(env: FlowEnv, key: str) -> Flow[str | None]:
    """Take the session's refresh lease (for work that replaces its tokens other than a
    refresh, e.g. a token exchange); the owner token, or None after the wait limit."""
    owner = b64url((yield RandomBytes(16)))
    deadline = (yield Now()) + env.config.refresh_wait_timeout
    poll = POLL_FIRST
    while True:
        now = yield Now()
        wait = max(0.0, deadline - now)
        if (
            yield AcquireLock(refresh_lock_name(key), owner, env.config.effective_lock_lease, wait)
        ):
            return owner
        if now >= deadline:
            return None
        yield Sleep(poll)
        poll = min(poll * 2, POLL_MAX)


def _settled_by_sibling(
    env: FlowEnv, seen: Loaded, current: Loaded | None, now: float, force: bool
) -> RefreshResult | None:
    """The result a sibling already produced, if any."""
    if current is None:
        return RefreshResult(RefreshOutcome.REJECTED, None, "the session is gone")
    if current.record.ended is not None:
        return RefreshResult(RefreshOutcome.REJECTED, current, "the session ended")
    if current.record.tokens.access_token != seen.record.tokens.access_token:
        return RefreshResult(RefreshOutcome.ROTATED, current, "refreshed by a sibling")
    if not force and classify(current.record, now, env.config.refresh_leeway) is TokenState.FRESH:
        return RefreshResult(RefreshOutcome.ROTATED, current, "already fresh")
    return None


def _refresh_holding_lock(
    env: FlowEnv, key: str, seen: Loaded, force: bool, owner: str
) -> Flow[RefreshResult]:
    config = env.config
    now = yield Now()
    current = yield from env.load(key)
    settled = _settled_by_sibling(env, seen, current, now, force)
    if settled is not None:
        return settled
    assert current is not None
    refresh_token = current.record.tokens.refresh_token
    if refresh_token is None:
        return RefreshResult(RefreshOutcome.REJECTED, current, "no refresh token")
    try:
        metadata = yield from env.provider()
        request = env.token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            url=metadata.token_endpoint,
            dpop_key=current.record.tokens.dpop_key,
        )
        # The answer is waited for well past the requests' own waits, with the lease kept
        # alive meanwhile: a slow provider still rotates the token, and nobody else may
        # send the old one in the meantime.
        hold = LeaseHold(refresh_lock_name(key), owner, config.effective_lock_lease)
        response = yield from env.post(
            request, "token endpoint", timeout=config.refresh_timeout, keep_lease=hold
        )
        now = yield from env.provider_clock(response)
        fresh = parse_token_response(
            response.status, response.body, now, dpop_key=current.record.tokens.dpop_key
        )
    except TokenEndpointError as exc:
        return (yield from _refresh_refused(env, key, current, exc))
    except OutcomeUnknown as exc:
        yield env.log(
            ERROR,
            f"the token endpoint may have rotated the refresh token but its answer never "
            f"came ({exc}); the session ends rather than reuse the old token",
            event=events.REFRESH_LOST,
            session=tag_of_key(key),
        )
        ended = yield from end_record(env, key, current, EndReason.REFRESH_LOST)
        return RefreshResult(RefreshOutcome.REJECTED, ended, "refresh_lost")
    except ProviderMisconfigured as exc:
        # The session is kept: it refreshes again once the configuration is right.
        yield env.log(ERROR, f"refresh impossible: {exc}", event=events.CONFIG_PROVIDER_MISMATCH)
        return RefreshResult(RefreshOutcome.UNAVAILABLE, current, str(exc))
    except ProviderError as exc:
        yield env.log(WARNING, f"refresh unavailable: {exc}", event=events.REFRESH_UNAVAILABLE)
        return RefreshResult(RefreshOutcome.UNAVAILABLE, current, str(exc))
    # Store the provider's answer first: from here on the old refresh token is spent.
    tokens = current.record.tokens.merged_with(fresh)
    stored = yield from save_tokens(env, key, current, tokens, current.record.claims)
    if stored is None:
        return RefreshResult(RefreshOutcome.REJECTED, None, "the session vanished during refresh")
    if fresh.id_token:
        claims = yield from _claims_after_refresh(env, fresh.id_token, current.record)
        if claims != dict(stored.record.claims):
            with_claims = yield from save_tokens(env, key, stored, stored.record.tokens, claims)
            stored = with_claims or stored
    return RefreshResult(RefreshOutcome.ROTATED, stored, "refreshed")


def _refresh_refused(
    env: FlowEnv, key: str, current: Loaded, exc: TokenEndpointError
) -> Flow[RefreshResult]:
    """An OAuth error from the token endpoint, classified once:

    * about the grant (``invalid_grant``, or a 400 that is not an OAuth error, as some
      providers send for a revoked token): the session ends as rejected, after a re-read
      (a sibling may have rotated the token);
    * about the client (``invalid_client``, ``unauthorized_client``): a configuration
      error, logged as such; the session is kept (fixing the configuration saves it);
    * anything else (``temporarily_unavailable``, 429, ...): transient.
    """
    if exc.error in ("invalid_grant", NOT_AN_OAUTH_ERROR):
        return (yield from _confirm_rejection(env, key, current))
    if exc.error in CLIENT_ERRORS:
        yield env.log(
            ERROR,
            f"the token endpoint refused this client ({exc}); check client_id, its secret or key "
            "and token_endpoint_auth_method; the session is kept",
            event=events.REFRESH_CONFIG_ERROR,
            client_id=env.config.client_id,
            auth_method=env.config.auth_method,
        )
        return RefreshResult(RefreshOutcome.UNAVAILABLE, current, exc.error)
    yield env.log(
        WARNING, f"{exc.error}; keeping the session for a retry", event=events.REFRESH_FAILED
    )
    return RefreshResult(RefreshOutcome.UNAVAILABLE, current, exc.error)


def _confirm_rejection(env: FlowEnv, key: str, current: Loaded) -> Flow[RefreshResult]:
    again = yield from env.load(key)
    if (
        again is not None
        and again.record.ended is None
        and (again.record.tokens.refresh_token != current.record.tokens.refresh_token)
    ):
        return RefreshResult(RefreshOutcome.ROTATED, again, "rotated by a sibling")
    ended = yield from end_record(env, key, again or current, EndReason.REFRESH_REJECTED)
    yield env.log(
        INFO,
        "the provider rejected the refresh token (revoked, reused or past its lifetime); "
        "the session ended and the user signs in again",
        event=events.REFRESH_REJECTED,
        session=tag_of_key(key),
    )
    return RefreshResult(RefreshOutcome.REJECTED, ended, "invalid_grant")


def _claims_after_refresh(
    env: FlowEnv, id_token: str, record: SessionRecord
) -> Flow[dict[str, object]]:
    """Claims after a refreshed ID token (OIDC Core 12.2: same iss, sub and aud, no nonce
    check), merged into the sign-in's by ``refreshed_claims``."""
    try:
        claims = yield from env.validate_id_token(id_token, nonce=None)
    except (IDTokenError, ProviderError) as exc:  # the JWKS may be unreachable too
        yield env.log(
            WARNING,
            f"the refreshed ID token was not accepted ({exc}); claims kept",
            event=events.REFRESH_CLAIMS_KEPT,
        )
        return dict(record.claims)
    if claims.get("sub") != record.claims.get("sub"):
        yield env.log(
            ERROR,
            "the refreshed ID token names another subject; claims kept",
            event=events.REFRESH_CLAIMS_KEPT,
        )
        return dict(record.claims)
    return refreshed_claims(record.claims, claims)


def save_tokens(
    env: FlowEnv, key: str, base: Loaded, tokens: TokenSet, claims: object
) -> Flow[Loaded | None]:
    """Write new tokens with compare-and-set, re-applying them on a newer record when a
    concurrent write (a touch) won the race. None if the session disappeared."""
    now = yield Now()
    current = base
    for _ in range(MAX_CAS_RETRIES):
        record = current.record.with_tokens(tokens, claims).touched(now)  # type: ignore[arg-type]
        version = yield from _save_retrying(env, key, record, current.version)
        if version is not None:
            return Loaded(record, version)
        reread = yield from env.load(key)
        if reread is None or reread.record.ended is not None:
            return None
        if reread.record.tokens.refresh_token != current.record.tokens.refresh_token:
            # Someone else replaced the tokens meanwhile (we lost the lease): keep theirs.
            return reread
        current = reread
    raise StoreContention("the session store kept changing while saving new tokens")


def _save_retrying(
    env: FlowEnv, key: str, record: SessionRecord, expected: int | None
) -> Flow[int | None]:
    """``env.save``, tried again a few times when the store fails: the record may hold
    tokens the provider has just issued, which exist nowhere else."""
    for attempt in range(STORE_WRITE_RETRIES):
        try:
            return (yield from env.save(key, record, expected))
        except StoreUnavailable as exc:
            if attempt == STORE_WRITE_RETRIES - 1:
                yield env.log(
                    ERROR, f"new tokens could not be saved ({exc})", event=events.STORE_WRITE_FAILED
                )
                raise
            yield Sleep(STORE_RETRY_PAUSE * (attempt + 1))
    raise AssertionError("unreachable")


def end_record(env: FlowEnv, key: str, loaded: Loaded, reason: EndReason) -> Flow[Loaded | None]:
    """Replace the session with a tombstone that remembers why it ended."""
    current: Loaded | None = loaded
    now = yield Now()
    for _ in range(MAX_CAS_RETRIES):
        if current is None:
            return None
        if current.record.ended is not None:
            return current
        # Remembered for ended_session_memory from now (store_expiry counts from last_seen):
        # a session that ended by idleness would otherwise get a tombstone born expired.
        tomb = current.record.tombstone(reason).touched(max(now, current.record.last_seen))
        version = yield from env.save(key, tomb, current.version)
        if version is not None:
            event = SessionEndEvent(reason, current.record.claims)
            yield from run_hook(env.config.hooks.on_session_end, event, "on_session_end")
            return Loaded(tomb, version)
        current = yield from env.load(key)
    return current
