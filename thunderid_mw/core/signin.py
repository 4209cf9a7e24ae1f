"""Sign-in: the authorization request (RFC 6749 4.1.1, RFC 7636, OIDC Core 3.1.2.1) and the
checks on the authorization response (RFC 6749 4.1.2, RFC 9207), then the code exchange.

A sign-in in progress is a ``SignInTransaction``, sealed with AES-GCM and kept by the
browser (one cookie per sign-in, so parallel tabs do not disturb each other) or, for the
client API, in the store.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import parse_qs, urlencode

from . import events
from .authorization import ACR_VALUE, auth_time_of, authenticated_too_long_ago
from .backchannel import add_to_indexes
from .config import ThunderIDConfig
from .cookies import SESSION_ID_BYTES, new_session_id
from .crypto import Keys, b64url, b64url_decode
from .discovery import ProviderMetadata
from .dpop import thumbprint
from .effects import Flow, NewDPoPKey, Now, RandomBytes
from .env import ERROR, WARNING, FlowEnv, Loaded
from .errors import (
    IDTokenError,
    SignInError,
    StoreContention,
    TokenEndpointError,
)
from .hooks import SignInEvent, SignInRejected, run_hook
from .introspection import refresh_token_expiry
from .pkce import code_challenge, code_verifier
from .session import SessionRecord, user_claims
from .signout import revoke_tokens
from .tokens import TokenSet, parse_token_response

SIGN_IN_ENTROPY = 96  # state, nonce and PKCE verifier: 32 random bytes each
_TX_CONTEXT = b"thunderid-mw sign-in transaction"
# Token endpoint errors about the application itself (RFC 6749 5.2), not the user's code.
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
CONFIG_PROBLEM = (
    "Sign-in is not possible right now because of a configuration problem on this site. "
    "The site's operators can find the details in the server log."
)


@dataclass(frozen=True, slots=True)
class SignInTransaction:
    state: str
    nonce: str
    code_verifier: str
    return_to: str
    created_at: float
    # DPoP with PAR: the key the code is bound to (``dpop_jkt``), made when the request was
    # pushed; the code exchange must prove it.
    dpop_key: str | None = field(default=None, repr=False)
    # What the authorization request asked for, checked against the ID token.
    acr_values: str = ""
    max_age: int | None = None

    def seal(self, keys: Keys, nonce: bytes, bound_to: str = "") -> str:
        """Encrypted and authenticated; ``bound_to`` (a session id) must be given again to
        open it."""
        fields = {name: value for name, value in asdict(self).items() if value is not None}
        raw = json.dumps(fields, separators=(",", ":")).encode()
        return b64url(keys.seal(raw, nonce, _TX_CONTEXT + bound_to.encode()))

    @classmethod
    def unseal(cls, keys: Keys, sealed: str, bound_to: str = "") -> SignInTransaction | None:
        data = b64url_decode(sealed)
        opened = None if data is None else keys.open(data, _TX_CONTEXT + bound_to.encode())
        if opened is None:
            return None
        try:
            return cls(**json.loads(opened))
        except (ValueError, TypeError):
            return None

    @property
    def cookie_suffix(self) -> str:
        """Names this transaction's cookie: a prefix of the state, unique per sign-in."""
        return self.state[:16]


# OpenID Connect Core 3.1.2.1 values an app may pass through /sign-in for step-up.
PROMPT_VALUES = frozenset({"login", "consent", "select_account", "none"})


def step_up_params(
    query: Callable[[str], str | None], allowed_acr: tuple[str, ...] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The allow-listed re-authentication parameters of a ``/sign-in`` query (``prompt``,
    ``max_age``, ``acr_values``) and the names of those dropped: malformed values, and acr
    values not in ``allowed_acr`` (when given), so a link cannot smuggle arbitrary
    authorization parameters. Other parameters are never read."""
    params: dict[str, str] = {}
    dropped: list[str] = []
    prompt = query("prompt")
    if prompt and set(prompt.split(" ")) <= PROMPT_VALUES:
        params["prompt"] = prompt
    elif prompt:
        dropped.append("prompt")
    max_age = query("max_age")
    if max_age and max_age.isascii() and max_age.isdigit() and len(max_age) <= 9:
        params["max_age"] = str(int(max_age))
    elif max_age:
        dropped.append("max_age")
    acr_values = query("acr_values")
    if acr_values:
        wanted = acr_values.split(" ")
        if all(ACR_VALUE.fullmatch(v) for v in wanted) and (
            allowed_acr is None or set(wanted) <= set(allowed_acr)
        ):
            params["acr_values"] = acr_values
        else:
            dropped.append("acr_values")
    return params, dropped


def authorization_request(
    config: ThunderIDConfig,
    *,
    return_to: str,
    entropy: bytes,
    now: float,
    extra_params: Mapping[str, str] | None = None,
    state_of: Callable[[SignInTransaction], str] | None = None,
    dpop_key: str | None = None,
) -> tuple[dict[str, str], SignInTransaction]:
    """The authorization request's parameters, and the transaction to keep.
    ``state_of`` makes the ``state`` parameter from the transaction (the client API seals
    the whole transaction into it, so nothing is stored before the callback).
    ``dpop_key`` binds the code to that DPoP key (``dpop_jkt``, RFC 9449 10)."""
    if len(entropy) != SIGN_IN_ENTROPY:
        raise ValueError(f"authorization_request takes {SIGN_IN_ENTROPY} random bytes")
    asked = {**config.extra_authorize_params, **(extra_params or {})}
    max_age = asked.get("max_age", "")
    tx = SignInTransaction(
        state=b64url(entropy[:32]),
        nonce=b64url(entropy[32:64]),
        code_verifier=code_verifier(entropy[64:]),
        return_to=return_to,
        created_at=now,
        dpop_key=dpop_key,
        acr_values=asked.get("acr_values", ""),
        max_age=int(max_age) if max_age.isascii() and max_age.isdigit() else None,
    )
    binding = {"dpop_jkt": thumbprint(dpop_key)} if dpop_key is not None else {}
    params = {
        **asked,
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.after_sign_in_url,
        "scope": " ".join(config.scopes),
        "state": state_of(tx) if state_of is not None else tx.state,
        "nonce": tx.nonce,
        "code_challenge": code_challenge(tx.code_verifier),
        "code_challenge_method": "S256",
        **binding,
    }
    return params, tx


def authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    separator = "&" if "?" in endpoint else "?"
    return endpoint + separator + urlencode(params)


@dataclass(frozen=True, slots=True)
class CallbackParams:
    state: str | None
    code: str | None
    iss: str | None
    error: str | None
    error_description: str | None
    session_state: str | None

    @classmethod
    def from_query(cls, query_string: str) -> CallbackParams:
        try:
            raw = parse_qs(query_string, keep_blank_values=True, max_num_fields=50)
        except ValueError:
            raise SignInError("bad_callback", "The sign-in response could not be read.") from None

        def one(name: str) -> str | None:
            values = raw.get(name)
            if not values:
                return None
            if len(values) > 1:  # RFC 6749 3.1: parameters must not repeat
                raise SignInError("bad_callback", f"The sign-in response repeats {name!r}.")
            return values[0]

        return cls(
            state=one("state"),
            code=one("code"),
            iss=one("iss"),
            error=one("error"),
            error_description=one("error_description"),
            session_state=one("session_state"),
        )

    @classmethod
    def from_values(
        cls,
        code: str | None,
        state: str | None,
        session_state: str | None = None,
        iss: str | None = None,
    ) -> CallbackParams:
        return cls(state, code, iss, None, None, session_state)


def check_callback(
    params: CallbackParams,
    tx: SignInTransaction | None,
    *,
    metadata: ProviderMetadata,
    now: float,
    timeout: float,
) -> str:
    """The authorization code, once the response is proven to answer ``tx`` and to come from
    the right issuer; otherwise ``SignInError`` naming what is wrong."""
    if not params.state:
        raise SignInError("missing_state", "The sign-in response has no state parameter.")
    if tx is None:
        raise SignInError(
            "unknown_state",
            "No sign-in is in progress for this response: it was already completed, it "
            "expired, or cookies are blocked. Please sign in again.",
        )
    if not hmac.compare_digest(params.state.encode(), tx.state.encode()):
        raise SignInError("state_mismatch", "The sign-in response does not match this sign-in.")
    if now - tx.created_at > timeout:
        raise SignInError(
            "expired_state", "This sign-in took too long and expired. Please sign in again."
        )
    # RFC 9207 2.4: compare iss when sent; require it when the provider says it sends it.
    if params.iss is not None:
        if params.iss.rstrip("/") != metadata.issuer.rstrip("/"):
            raise SignInError("issuer_mismatch", "The sign-in response came from another issuer.")
    elif metadata.iss_parameter_supported:
        raise SignInError("issuer_missing", "The sign-in response lacks the iss parameter.")
    if params.error == "access_denied":  # the user said no (or cancelled): not a fault
        detail = f": {params.error_description}" if params.error_description else ""
        raise SignInError(
            "sign_in_cancelled",
            f"The sign-in was cancelled at the identity provider (access_denied{detail}). "
            "You can sign in again whenever you like.",
            status=403,
        )
    if params.error:
        detail = f" ({params.error_description})" if params.error_description else ""
        status = 400
        raise SignInError(
            "provider_error",
            f"The identity provider did not sign you in: {params.error}{detail}.",
            status=status,
        )
    if not params.code:
        raise SignInError("missing_code", "The sign-in response has no authorization code.")
    return params.code


def code_exchange_params(
    config: ThunderIDConfig, code: str, tx: SignInTransaction
) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.after_sign_in_url,
        "code_verifier": tx.code_verifier,
    }


def complete_sign_in(
    env: FlowEnv,
    params: CallbackParams,
    tx: SignInTransaction | None,
    session_id: str | None = None,
) -> Flow[tuple[str, Loaded]]:
    """Check the response, exchange the code, validate the ID token and store the session.

    The middleware passes no ``session_id``: the session gets a new random id, never the id
    of a session that existed before (no fixation). The client API stores it under the
    caller's ``session_id``, as the Node SDK does. Returns ``(session_id, loaded)``."""
    metadata = yield from env.provider()
    now = yield Now()
    code = check_callback(
        params, tx, metadata=metadata, now=now, timeout=env.config.sign_in_timeout
    )
    assert tx is not None
    # DPoP: a key of this session's own, bound to every token it will hold: the one the
    # pushed request bound the code to, else one made now.
    dpop_key = tx.dpop_key
    if dpop_key is None and env.config.dpop:
        dpop_key = yield NewDPoPKey()
    request = env.token_request(
        code_exchange_params(env.config, code, tx), url=metadata.token_endpoint, dpop_key=dpop_key
    )
    response = yield from env.post(request, "token endpoint")
    now = yield Now()
    try:
        provider_now = yield from env.provider_clock(response)
        tokens = parse_token_response(
            response.status, response.body, provider_now, dpop_key=dpop_key
        )
    except TokenEndpointError as exc:
        if exc.error in CLIENT_ERRORS:
            raise (yield from client_rejected(env, exc, "token endpoint")) from exc
        # invalid_grant here is a replayed or expired code.
        yield env.log(
            WARNING,
            f"the token endpoint rejected the authorization code ({exc.error})",
            event=events.SIGN_IN_CODE_REJECTED,
        )
        raise SignInError(
            "code_rejected",
            f"The identity provider rejected the sign-in code ({exc.error}). Please sign in again.",
        ) from exc
    if tokens.id_token is None:
        raise SignInError("no_id_token", "The identity provider returned no ID token.", status=502)
    try:
        claims = yield from env.validate_id_token(tokens.id_token, nonce=tx.nonce)
    except IDTokenError as exc:
        raise SignInError(
            "invalid_id_token", f"The ID token was rejected: {exc}.", status=502
        ) from exc
    try:
        check_authentication(claims, tx, now=now, leeway=env.config.clock_skew)
    except SignInError:
        yield from revoke_tokens(env, tokens)  # nobody will hold them
        raise
    yield from _ask_the_app(env, SignInEvent(user_claims(claims), tokens.scopes), tokens)
    refresh_expires_at = yield from refresh_token_expiry(env, tokens)
    if refresh_expires_at is not None:
        tokens = replace(tokens, refresh_expires_at=refresh_expires_at)
    if not tokens.scopes:  # RFC 6749 5.1: no scope in the answer means the ones asked for
        tokens = replace(tokens, scopes=tuple(env.config.scopes))
    record = SessionRecord(
        tokens=tokens,
        claims=user_claims(claims),
        created_at=now,
        last_seen=now,
        absolute_expires_at=now + env.config.session_max_age,
    )
    if session_id is not None:
        key = env.keys.store_key_for("s", session_id)
        for _ in range(3):
            existing = yield from env.load(key)
            version = yield from env.save(key, record, existing.version if existing else None)
            if version is not None:
                yield from add_to_indexes(env, key, record.claims, env.store_expiry(record))
                return session_id, Loaded(record, version)
        raise StoreContention("the session store kept changing while saving the new session")
    for _ in range(3):
        new_id = new_session_id((yield RandomBytes(SESSION_ID_BYTES)))
        key = env.keys.store_key_for("s", new_id)
        version = yield from env.save(key, record, None)
        if version is not None:
            yield from add_to_indexes(env, key, record.claims, env.store_expiry(record))
            return new_id, Loaded(record, version)
    raise StoreContention("could not allocate a session id (every save was refused)")


def client_rejected(env: FlowEnv, exc: TokenEndpointError, endpoint: str) -> Flow[SignInError]:
    """The provider refuses this application, not this user: logged for the operator, and
    the error to raise (a 502 page that blames no user: no retry can help)."""
    yield env.log(
        ERROR,
        f"the {endpoint} rejected the client ({exc.error}); check client_id, "
        "client_secret (or client_private_key) and token_endpoint_auth_method against "
        "the provider's application settings",
        event=events.CONFIG_CLIENT_REJECTED,
        client_id=env.config.client_id,
        auth_method=env.config.auth_method,
    )
    return SignInError("client_rejected", CONFIG_PROBLEM, status=502)


def check_authentication(
    claims: Mapping[str, object], tx: SignInTransaction, *, now: float, leeway: float
) -> None:
    """The ID token gives what the authorization request asked for (OIDC Core 3.1.2.1,
    3.1.3.7): an ``acr`` among the requested ``acr_values``, and with ``max_age`` an
    ``auth_time`` at most that old; else ``SignInError`` (403: signing in again the same
    way would give the same answer, so a step-up ends here instead of looping)."""
    if tx.acr_values:
        wanted = tx.acr_values.split(" ")
        if claims.get("acr") not in wanted:
            raise SignInError(
                "acr_not_met",
                "The identity provider did not confirm the kind of sign-in this page "
                f"needs (asked for {' or '.join(wanted)}). Ask the site's operators which "
                "sign-in method it needs.",
                status=403,
            )
    if tx.max_age is not None:
        auth_time = auth_time_of(claims)
        if auth_time is None:
            raise SignInError(
                "auth_time_missing",
                "The identity provider did not say when you signed in, which this page needs.",
                status=403,
            )
        if authenticated_too_long_ago(auth_time, tx.max_age, now=now, leeway=leeway):
            raise SignInError(
                "authentication_too_old",
                "The identity provider did not ask you to sign in again, which this page "
                "needs (your last sign-in there is too old).",
                status=403,
            )


def _ask_the_app(env: FlowEnv, event: SignInEvent, tokens: TokenSet) -> Flow[None]:
    """The app's ``on_sign_in`` hook, before anything is stored: a refusal or a failure
    ends the sign-in here, with no session, and the tokens just issued are revoked (no
    one holds them, and they must not outlive the refusal at the provider)."""
    try:
        accepted = yield from run_hook(env.config.hooks.on_sign_in, event, "on_sign_in")
    except SignInRejected as exc:
        yield env.log(
            WARNING, "the on_sign_in hook refused the user", event=events.SIGN_IN_REJECTED
        )
        yield from revoke_tokens(env, tokens)
        raise SignInError("sign_in_rejected", exc.message, status=403) from None
    if not accepted:
        yield from revoke_tokens(env, tokens)
        raise SignInError(
            "sign_in_hook_failed",
            "The sign-in could not be completed because of a problem on this site. "
            "Please try again later.",
            status=500,
        )
