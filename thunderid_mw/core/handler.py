"""What the middleware does with a request, decided once for WSGI and ASGI.

``route_flow`` answers the middleware's own routes (sign-in, callback, sign-out);
``challenge`` and ``unavailable`` answer app requests that cannot go on. The adapters only
translate a WSGI environ / ASGI scope into a ``RequestInfo`` and a ``Response`` back.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from . import events
from .backchannel import logout_flow
from .config import ThunderIDConfig
from .cookies import (
    clear_session_cookie,
    find_cookie,
    iter_cookies,
    session_cookie,
    session_id_from_header,
    set_cookie,
    sign_out_state_cookie,
    transaction_cookie_prefix,
)
from .crypto import b64url
from .effects import Flow, Now, RandomBytes
from .env import ERROR, INFO, WARNING, FlowEnv
from .errors import (
    ProviderError,
    ProviderMisconfigured,
    RefreshUnavailable,
    SignInError,
    StoreContention,
    StoreUnavailable,
    TLSVerificationError,
)
from .par import authorization_redirect, code_binding_key
from .paths import collapse
from .redirects import safe_return_to
from .responses import Response, error_response, redirect, sign_out_confirmation
from .routing import Route, is_api_request
from .session import EndReason
from .signin import (
    SIGN_IN_ENTROPY,
    CallbackParams,
    SignInTransaction,
    authorization_request,
    complete_sign_in,
    step_up_params,
)
from .signout import end_session, sign_out_state_matches, sign_out_target

MAX_FORM_BYTES = 16 * 1024  # a logout token is a signed JWT of a few KB
MAX_QUERY_FIELDS = 50
# Added to /sign-in when it redirects to the configured origin, so it happens once.
HOST_REDIRECT_MARK = "origin_checked"
# Sign-in failures the user cannot fix (the page offers no "sign in again").
OPERATOR_FAULTS = frozenset({"client_rejected", "par_unavailable", "par_rejected"})
# Sign-in failures logged where they arose (sign_in.rejected, hook.failed, at ERROR).
LOGGED_WHERE_RAISED = OPERATOR_FAULTS | {"sign_in_rejected", "sign_in_hook_failed"}


class BadRequest(Exception):
    """A request to one of our routes that no valid client sends (answered 400)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class RequestInfo:
    method: str
    path: str
    query_string: str
    cookie_header: str | None
    header: Callable[[str], str | None]  # by lower-case name
    form: Mapping[str, str] | None = None
    # Where the app is mounted (WSGI ``SCRIPT_NAME``, ASGI ``root_path``), without a
    # trailing slash; ``path`` is below it. Links and redirects we send carry it.
    mount: str = ""
    # The public origin the browser used (``scheme://host``, core/proxy.py), "" if unknown.
    origin: str = ""

    @property
    def is_api(self) -> bool:
        return is_api_request(self.header)

    def query(self, name: str) -> str | None:
        """The first value of query field ``name``; ``BadRequest`` for a query string with
        more fields than any of our routes takes."""
        try:
            values = parse_qs(self.query_string, max_num_fields=MAX_QUERY_FIELDS).get(name)
        except ValueError as exc:
            raise BadRequest("too_many_fields", "The query string has too many fields.") from exc
        return values[0] if values else None


def parse_form(body: bytes) -> dict[str, str]:
    """A small urlencoded form (the sign-out confirmation); oversized bodies give {}."""
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        parsed = parse_qs(body.decode("ascii"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in parsed.items()}


def route_flow(env: FlowEnv, route: Route, request: RequestInfo) -> Flow[Response]:
    """Answer one of the middleware's own routes; every failure becomes a clean page.
    Sign-out never waits for the provider: it signs out locally whatever happens."""
    if route is Route.SIGN_IN and (moved := (yield from _host_redirect(env, request))):
        return moved
    if route not in (Route.SIGN_OUT, Route.SIGNED_OUT):
        try:
            yield from env.provider()
        except ProviderError as exc:
            yield env.log(
                ERROR, f"identity provider unavailable: {exc}", event=_provider_event(exc)
            )
            return provider_unavailable(request, exc)
    try:
        if route is Route.SIGN_IN:
            return (yield from _sign_in(env, request))
        if route is Route.CALLBACK:
            return (yield from _callback(env, request))
        if route is Route.SIGNED_OUT:
            return (yield from _sign_out_return(env, request))
        if route is Route.BACKCHANNEL_LOGOUT:
            if request.method != "POST":
                return error_response(405, "method_not_allowed", "Use POST.", api=True)
            return (yield from logout_flow(env, request.form))
        return (yield from _sign_out(env, request))
    except BadRequest as exc:
        return error_response(400, exc.code, str(exc), api=request.is_api)
    except SignInError as exc:
        return sign_in_failed(env.config, request, exc)
    except StoreUnavailable as exc:
        yield env.log(ERROR, f"session store unavailable: {exc}", event=events.STORE_UNAVAILABLE)
        if route is Route.CALLBACK:
            # The code is spent by now: retrying this URL cannot work, a new sign-in can.
            why = "was busy" if isinstance(exc, StoreContention) else "is unavailable"
            return unavailable(
                request,
                f"The sign-in could not be saved because the session store {why}. "
                "Please sign in again shortly.",
                links=[("Sign in again", request.mount + env.config.sign_in_path)],
            )
        return unavailable_for(request, exc)
    except ProviderError as exc:
        yield env.log(ERROR, f"identity provider error: {exc}", event=_provider_event(exc))
        return error_response(
            502,
            "provider_error",
            "The identity provider could not be reached or answered unexpectedly. "
            "Please try again later.",
            api=request.is_api,
        )


def _host_redirect(env: FlowEnv, request: RequestInfo) -> Flow[Response | None]:
    """Sign-in started on another origin than after_sign_in_url's: the sign-in cookie set
    here would not reach the callback there ("unknown_state" later). Go there first, once."""
    # Hosts only: cookies are per host, and a TLS terminator that does not say so (or is
    # not trusted) makes the scheme look like http although the browser used https.
    if request.origin and _host_of(request.origin) != _host_of(env.config.app_origin):
        seen = request.origin
        try:
            marked = request.query(HOST_REDIRECT_MARK) is not None
        except BadRequest:
            return None  # the sign-in itself answers 400
        if not marked:
            yield env.log(
                WARNING,
                f"sign-in started on {seen}, but after_sign_in_url is on {env.config.app_origin}; "
                "redirecting the browser there first",
                event=events.CONFIG_HOST_MISMATCH,
            )
            # Our own origin, so no open redirect; a query that is not header-safe is dropped.
            safe = request.query_string.isascii() and request.query_string.isprintable()
            query = request.query_string + "&" if safe and request.query_string else ""
            target = env.config.app_origin + request.mount + env.config.sign_in_path
            return redirect(f"{target}?{query}{HOST_REDIRECT_MARK}=1", [])
        yield env.log(
            ERROR,
            f"sign-in still arrives as {seen} after a redirect to {env.config.app_origin}: the "
            "sign-in cookie will be lost. Behind a reverse proxy, forward the Host header "
            "and set trusted_proxies (THUNDERID_TRUSTED_PROXIES)",
            event=events.CONFIG_HOST_MISMATCH,
        )
    return None


def _host_of(origin: str) -> str:
    return origin.split("://", 1)[-1]


def _sign_in(env: FlowEnv, request: RequestInfo) -> Flow[Response]:
    config = env.config
    if request.method != "GET":
        # Not even HEAD: starting a sign-in is a side effect (a transaction cookie, with PAR
        # a request to the provider), and link checkers send HEAD to every URL they see.
        return error_response(
            405,
            "method_not_allowed",
            "Use GET to sign in.",
            api=request.is_api,
            headers=[("Allow", "GET")],
        )
    raw_return_to = request.query("return_to")
    return_to = safe_return_to(raw_return_to) if raw_return_to else request.mount + "/"
    if return_to is None:
        return error_response(
            400,
            "bad_return_to",
            "return_to must be a path on this site (for example /profile), not another site.",
            api=request.is_api,
        )
    now = yield Now()
    entropy = yield RandomBytes(SIGN_IN_ENTROPY)
    metadata = yield from env.provider()
    step_up, dropped = step_up_params(request.query, config.sign_in_acr_values)
    if dropped:
        yield env.log(
            INFO,
            f"sign-in: dropped {', '.join(dropped)} from the query (malformed, or an acr "
            "value not in sign_in_acr_values)",
            event=events.SIGN_IN_PARAMS_DROPPED,
        )
    params, tx = authorization_request(
        config,
        return_to=return_to,
        entropy=entropy,
        now=now,
        extra_params=step_up,
        dpop_key=(yield from code_binding_key(env, metadata)),
    )
    url = yield from authorization_redirect(env, metadata, params)
    nonce = yield RandomBytes(12)
    cookies = _evict_transactions(env, request, now)
    cookies.append(
        set_cookie(
            config,
            transaction_cookie_prefix(config) + tx.cookie_suffix,
            tx.seal(env.keys, nonce),
            max_age=int(config.sign_in_timeout),
        )
    )
    return redirect(url, cookies)


def _evict_transactions(env: FlowEnv, request: RequestInfo, now: float) -> list[str]:
    """Deletions that keep at most ``max_sign_ins_in_progress - 1`` older sign-ins, so the
    new one fits: the oldest, expired and unreadable go first."""
    config = env.config
    prefix = transaction_cookie_prefix(config)
    found: list[tuple[float, str]] = []
    for name, value in iter_cookies(request.cookie_header, prefix):
        tx = SignInTransaction.unseal(env.keys, value)
        created = tx.created_at if tx is not None else float("-inf")
        if tx is not None and now - created > config.sign_in_timeout:
            created = float("-inf")
        found.append((created, name))
    found.sort()
    excess = len(found) - (config.max_sign_ins_in_progress - 1)
    stale = [name for created, name in found if created == float("-inf")]
    doomed = set(stale) | {name for _, name in found[: max(0, excess)]}
    return [set_cookie(config, name, "", max_age=0) for name in sorted(doomed)]


def _callback(env: FlowEnv, request: RequestInfo) -> Flow[Response]:
    config = env.config
    params = CallbackParams.from_query(request.query_string)
    prefix = transaction_cookie_prefix(config)
    tx = None
    tx_cookie = None
    if params.state:
        tx_cookie = prefix + params.state[:16]
        for name, value in iter_cookies(request.cookie_header, prefix):
            if name == tx_cookie:
                tx = SignInTransaction.unseal(env.keys, value)
                break
    cookies = [set_cookie(config, tx_cookie, "", max_age=0)] if tx is not None and tx_cookie else []
    try:
        session_id, _ = yield from complete_sign_in(env, params, tx)
    except SignInError as exc:
        if exc.code not in LOGGED_WHERE_RAISED:
            # A user who cancels at the provider is no fault of anyone's.
            level = INFO if exc.code == "sign_in_cancelled" else WARNING
            yield env.log(level, f"sign-in failed ({exc.code}): {exc}", event=events.SIGN_IN_FAILED)
        return sign_in_failed(config, request, exc, cookies, tx.return_to if tx else None)
    assert tx is not None
    cookies.append(session_cookie(config, session_id))
    # The whole answer exists before the previous session ends, so nothing after this
    # point can leave the browser signed out without its new session.
    answer = redirect(tx.return_to, cookies)
    old_id = session_id_from_header(request.cookie_header, config.cookie_name)
    if old_id is not None and old_id != session_id:
        # The browser had a session: end it, the new id replaces it (no fixation).
        yield from end_session(
            env, env.keys.store_key_for("s", old_id), EndReason.SIGNED_OUT, revoke=False
        )
    return answer


def _sign_out(env: FlowEnv, request: RequestInfo) -> Flow[Response]:
    config = env.config
    session_id = session_id_from_header(request.cookie_header, config.cookie_name)
    if request.method in ("GET", "HEAD"):
        loaded = None
        if session_id is not None:
            loaded = yield from env.load(env.keys.store_key_for("s", session_id))
        if session_id is None or loaded is None or loaded.record.ended is not None:
            return redirect(config.post_sign_out_url, [clear_session_cookie(config)])
        raw_return_to = request.query("return_to")
        cancel = (safe_return_to(raw_return_to) if raw_return_to else None) or request.mount + "/"
        return sign_out_confirmation(
            request.mount + config.sign_out_path,
            env.keys.csrf_token(session_id),
            account=account_name(loaded.record.claims),
            cancel_url=cancel,
        )
    if request.method != "POST":
        return error_response(
            405, "method_not_allowed", "Use POST to sign out.", api=request.is_api
        )
    if not _same_site_post(env, request, session_id):
        return error_response(
            403,
            "cross_site_sign_out",
            "Sign-out must be confirmed from this site.",
            api=request.is_api,
        )
    if session_id is None:
        return redirect(config.post_sign_out_url, [clear_session_cookie(config)], status=303)
    key = env.keys.store_key_for("s", session_id)
    record = yield from end_session(env, key, EndReason.SIGNED_OUT, revoke=True)
    # A fresh state on every end-session request, bound to this browser by a short-lived
    # cookie and checked when the provider sends the browser back (_sign_out_return).
    state = b64url((yield RandomBytes(32)))
    target = yield from sign_out_target(env, record.tokens.id_token if record else None, state)
    cookies = [clear_session_cookie(config)]
    if target != config.post_sign_out_url and config.sign_out_return_path is not None:
        cookies.append(
            set_cookie(
                config, sign_out_state_cookie(config), state, max_age=int(config.sign_in_timeout)
            )
        )
    return redirect(target, cookies, status=303)


def _sign_out_return(env: FlowEnv, request: RequestInfo) -> Flow[Response]:
    """Back at ``post_sign_out_url`` from the provider with a ``state`` while the browser
    holds a sign-out state cookie (the adapters send only such requests here). Whatever
    the state, the user has signed out: the browser goes on to ``post_sign_out_url``
    itself (configured, so never an open redirect; without the state, so this runs once)
    and the cookie is cleared. A state that does not match is logged: someone other than
    this browser's sign-out sent it here."""
    config = env.config
    expected = find_cookie(request.cookie_header or "", sign_out_state_cookie(config))
    if not sign_out_state_matches(request.query("state"), expected):
        yield env.log(
            WARNING,
            "the return from the provider's sign-out carries a state this browser did not "
            "send; going on to after_sign_out_url",
            event=events.SIGN_OUT_STATE_MISMATCH,
        )
    cleared = set_cookie(config, sign_out_state_cookie(config), "", max_age=0)
    return redirect(config.post_sign_out_url, [cleared], status=303)


def _same_site_post(env: FlowEnv, request: RequestInfo, session_id: str | None) -> bool:
    """A sign-out POST counts only when it provably comes from this site: the CSRF token
    of the confirmation form, or same-origin fetch metadata; a foreign Origin never."""
    origin = request.header("origin")
    if origin and origin != "null" and origin.rstrip("/") not in _own_origins(env, request):
        return False
    token = (request.form or {}).get("csrf_token") or request.header("x-csrf-token")
    if token and session_id is not None:
        return hmac.compare_digest(token.encode(), env.keys.csrf_token(session_id).encode())
    return request.header("sec-fetch-site") == "same-origin"


def _own_origins(env: FlowEnv, request: RequestInfo) -> tuple[str, ...]:
    """The configured origin, and the public origin a trusted proxy reported for the
    same host (a TLS terminator in front of an app configured with http://)."""
    configured = env.config.app_origin
    public = request.origin
    if public and _host_of(public) == _host_of(configured):
        return (configured, public)
    return (configured,)


def sign_in_failed(
    config: ThunderIDConfig,
    request: RequestInfo,
    exc: SignInError,
    cookies: list[str] | None = None,
    return_to: str | None = None,
) -> Response:
    """A sign-in that cannot complete: its status, a code naming why, and the ways back:
    "Sign in again" to where the user was going (none when the site itself is
    misconfigured: signing in again cannot help), and the home page."""
    home = request.mount + "/"
    again = request.mount + config.sign_in_path
    if return_to:
        again += "?return_to=" + quote(return_to, safe="")
    links = [] if exc.code in OPERATOR_FAULTS else [("Sign in again", again)]
    links.append(("Back to the home page", home))
    return error_response(
        exc.status,
        exc.code,
        str(exc),
        api=request.is_api,
        cookies=cookies or (),
        links=links,
    )


def account_name(claims: Mapping[str, Any]) -> str | None:
    """Who is signed in, in the words the user knows: name, username, email, else sub."""
    for claim in ("name", "preferred_username", "email", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def challenge(config: ThunderIDConfig, request: RequestInfo, ended: EndReason | None) -> Response:
    """A protected path without a session: code gets 401, a browser goes to sign in."""
    cookies = [clear_session_cookie(config)] if ended is not None else []
    target = _return_target(request)
    sign_in = request.mount + config.sign_in_path + "?return_to=" + quote(target, safe="")
    if request.is_api or request.method not in ("GET", "HEAD"):
        reason = ended.value if ended else "not_signed_in"
        return error_response(
            401,
            "not_signed_in",
            "Sign-in required." + (f" The session ended: {reason}." if ended else ""),
            api=request.is_api,
            headers=[
                (
                    "WWW-Authenticate",
                    f'Bearer realm="thunderid", error="invalid_token", '
                    f'error_description="{reason}"',
                )
            ],
            cookies=cookies,
            links=[("Sign in", sign_in)],
        )
    return redirect(sign_in, cookies)


def _return_target(request: RequestInfo) -> str:
    """Where sign-in comes back to: this request's URL if ``/sign-in`` takes it as a path
    on this site; a spelling it would refuse as another site (``//private``) is replaced
    by its normalised path, a query it would refuse (too long) is left out, else the home
    page."""
    query = "?" + request.query_string if request.query_string else ""
    paths = (request.path, collapse(request.path))
    candidates = [request.mount + p + query for p in paths] + [request.mount + p for p in paths]
    return next((t for t in candidates if safe_return_to(t) is not None), request.mount + "/")


def provider_unavailable(request: RequestInfo, exc: ProviderError) -> Response:
    """The provider cannot be discovered: a 502 that says so. Configuration advice (which
    setting fixes it) goes to the log, not to end users."""
    if isinstance(exc, ProviderMisconfigured):
        return error_response(
            502,
            "provider_misconfigured",
            "Sign-in is not possible right now because of a configuration problem on this "
            "site. The site's operators can find the details in the server log.",
            api=request.is_api,
        )
    if isinstance(exc, TLSVerificationError):
        return error_response(
            502,
            "provider_tls_untrusted",
            "The identity provider's TLS certificate is not trusted by this site, so "
            "sign-in cannot proceed. The site's operators can find the details in the "
            "server log.",
            api=request.is_api,
        )
    return error_response(
        502,
        "provider_unavailable",
        "The identity provider is unavailable, so sign-in cannot proceed. Please try again later.",
        api=request.is_api,
    )


def unavailable_for(
    request: RequestInfo, exc: RefreshUnavailable | StoreUnavailable | ProviderError
) -> Response:
    """The 503 for a session that cannot be served now (IdP or store away)."""
    if isinstance(exc, RefreshUnavailable):
        return unavailable(request, str(exc), exc.retry_after)
    if isinstance(exc, StoreContention):
        return unavailable(request, "The session is busy. Please retry.", exc.retry_after)
    if isinstance(exc, StoreUnavailable):
        return unavailable(request, "The session store is unavailable. Please retry shortly.")
    return unavailable(request, "The identity provider is unavailable. Please retry shortly.")


def unavailable(
    request: RequestInfo,
    message: str,
    retry_after: int = 5,
    links: list[tuple[str, str]] | None = None,
) -> Response:
    return error_response(
        503,
        "temporarily_unavailable",
        message,
        api=request.is_api,
        headers=[("Retry-After", str(retry_after))],
        links=links or (),
    )


def _provider_event(exc: ProviderError) -> str:
    if isinstance(exc, ProviderMisconfigured):
        return events.CONFIG_PROVIDER_MISMATCH
    return (
        events.PROVIDER_TLS
        if isinstance(exc, TLSVerificationError)
        else events.PROVIDER_UNREACHABLE
    )
