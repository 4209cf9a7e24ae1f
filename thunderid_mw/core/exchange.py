"""Calls to the token endpoint beyond the standard grants.

* ``exchange_token``: the Node SDK's ``exchangeToken`` — a form built from
  ``TokenExchangeConfig.data`` with ``{{placeholders}}`` filled in;
* ``token_exchange_params``: RFC 8693 token exchange, typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import TokenExchangeConfig
from .effects import Flow, Now, ReleaseLock
from .env import FlowEnv, Loaded
from .errors import IDTokenError, NotSignedIn, ProviderError, RefreshUnavailable, TokenEndpointError
from .refresh import hold_refresh_lock, refresh_lock_name, save_tokens
from .session import user_claims
from .tokens import accepted_token_set, parse_json_body

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
PLACEHOLDERS = ("accessToken", "clientId", "clientSecret", "scopes", "username")


def render_data(data: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """``data`` with every ``{{name}}`` replaced by ``values[name]``."""
    rendered = {}
    for field, template in data.items():
        text = str(template)
        for name in PLACEHOLDERS:
            text = text.replace("{{" + name + "}}", values.get(name, ""))
        rendered[field] = text
    return rendered


def token_exchange_params(
    subject_token: str,
    *,
    subject_token_type: str = ACCESS_TOKEN_TYPE,
    audience: str | None = None,
    resource: str | None = None,
    scope: str | None = None,
    requested_token_type: str | None = None,
    actor_token: str | None = None,
    actor_token_type: str | None = None,
) -> dict[str, str]:
    """The form of an RFC 8693 token exchange request (section 2.1)."""
    params = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": subject_token_type,
    }
    optional = {
        "audience": audience,
        "resource": resource,
        "scope": scope,
        "requested_token_type": requested_token_type,
        "actor_token": actor_token,
        "actor_token_type": actor_token_type,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    return params


def exchange_token(
    env: FlowEnv, request: TokenExchangeConfig, key: str | None, loaded: Loaded | None
) -> Flow[dict[str, Any] | None]:
    """Run one ``TokenExchangeConfig`` for the session ``loaded`` (already fresh).

    With ``returns_session`` the session's tokens are replaced under the refresh lease, so
    it is single-flight like a refresh."""
    if not (request.returns_session and key is not None and loaded is not None):
        return (yield from _exchange(env, request, key, loaded))
    owner = yield from hold_refresh_lock(env, key)
    if owner is None:
        raise RefreshUnavailable("timed out waiting for a refresh in progress")
    try:
        current = yield from env.load(key)
        return (yield from _exchange(env, request, key, current))
    finally:
        yield ReleaseLock(refresh_lock_name(key), owner)


def _exchange(
    env: FlowEnv, request: TokenExchangeConfig, key: str | None, loaded: Loaded | None
) -> Flow[dict[str, Any] | None]:
    live = loaded if loaded is not None and loaded.record.ended is None else None
    if request.sign_in_required and live is None:
        raise NotSignedIn(f"token exchange {request.id!r} needs a signed-in session")
    config = env.config
    claims = live.record.claims if live else {}
    values = {
        "accessToken": live.record.tokens.access_token if live else "",
        "clientId": config.client_id,
        "clientSecret": config.client_secret or "",
        "scopes": " ".join(config.scopes),
        "username": str(
            claims.get("username") or claims.get("preferred_username") or claims.get("sub") or ""
        ),
    }
    form = render_data(request.data, values)
    # A DPoP session proves its key here too, as on a refresh: the answer is bound to it.
    dpop_key = live.record.tokens.dpop_key if live else None
    bearer = bound = None
    if request.attach_token:
        if live is None:
            raise NotSignedIn(f"token exchange {request.id!r} attaches a token but none exists")
        if live.record.tokens.is_dpop_bound:
            bound = live.record.tokens.access_token
        else:
            bearer = live.record.tokens.access_token
    url = request.token_endpoint or (yield from env.provider()).token_endpoint
    http_request = env.token_request(
        form, url=url, bearer=bearer, dpop_key=dpop_key, dpop_bound_token=bound
    )
    response = yield from env.post(http_request, "token endpoint")
    if response.status >= 500:
        raise ProviderError(f"the token endpoint answered HTTP {response.status}")
    body = parse_json_body(response.status, response.body, "token endpoint")
    if response.status != 200 or "error" in body:
        description = body.get("error_description")
        error = str(body.get("error") or "invalid_request")
        text = description if isinstance(description, str) else None
        if request.attach_token and error == "invalid_client":
            # ThunderID (and others) read any Authorization header on the token endpoint as
            # the client's Basic credentials: a Bearer token there fails client auth.
            text = (
                f"{text + '; ' if text else ''}this exchange sends the access token in "
                f"Authorization (attach_token=True), which providers such as "
                "ThunderID read as client credentials; put the token in the form instead "
                "({{accessToken}} in data) and set attach_token=False"
            )
        raise TokenEndpointError(error, text, status=response.status)
    if request.returns_session:
        if live is None or key is None:
            raise NotSignedIn(f"token exchange {request.id!r} returns a session but none exists")
        now = yield Now()
        fresh = accepted_token_set(body, now, dpop_key=dpop_key)
        new_claims: Mapping[str, Any] = live.record.claims
        if fresh.id_token:
            try:
                new_claims = user_claims((yield from env.validate_id_token(fresh.id_token, None)))
            except IDTokenError as exc:
                raise ProviderError(f"the exchanged ID token was rejected: {exc}") from exc
        tokens = live.record.tokens.merged_with(fresh)
        stored = yield from save_tokens(env, key, live, tokens, new_claims)
        if stored is None:
            raise NotSignedIn("the session ended during the token exchange")
    return body if request.return_response else None
