"""Pushed authorization requests (RFC 9126): the authorization request is posted to the
provider first, with the client authentication of a token request, and the browser
carries only ``client_id`` and the ``request_uri`` the provider answered with."""

from __future__ import annotations

from collections.abc import Mapping

from . import events
from .config import ThunderIDConfig
from .discovery import ProviderMetadata
from .effects import Flow, HttpResult, NewDPoPKey
from .env import ERROR, FlowEnv
from .errors import ProviderError, SignInError, TokenEndpointError
from .signin import CLIENT_ERRORS, CONFIG_PROBLEM, authorization_url, client_rejected
from .tokens import oauth_error, parse_json_body

PAR_ENDPOINT = "pushed authorization request endpoint"


def pushes(config: ThunderIDConfig, metadata: ProviderMetadata) -> bool:
    """Whether this sign-in is pushed: ``always``, or ``auto`` and the provider requires it."""
    mode = config.pushed_authorization_requests
    if mode == "auto":
        return metadata.require_pushed_authorization_requests
    return mode == "always"


def code_binding_key(env: FlowEnv, metadata: ProviderMetadata) -> Flow[str | None]:
    """With DPoP, a pushed request binds the code to the session's key from the start
    (``dpop_jkt``): the key, made now, for ``authorization_request``; else None."""
    if env.config.dpop and pushes(env.config, metadata):
        key: str = yield NewDPoPKey()
        return key
    return None


def par_unavailable(config: ThunderIDConfig, metadata: ProviderMetadata) -> str | None:
    """Why the configured pushing cannot happen at this provider, or None."""
    if pushes(config, metadata) and metadata.pushed_authorization_request_endpoint is None:
        why = (
            "pushed_authorization_requests is 'always'"
            if config.pushed_authorization_requests == "always"
            else "the provider's metadata requires pushed authorization requests"
        )
        return f"{why}, but the provider publishes no pushed_authorization_request_endpoint"
    return None


def authorization_redirect(
    env: FlowEnv, metadata: ProviderMetadata, params: Mapping[str, str]
) -> Flow[str]:
    """Where to send the browser: the authorization endpoint with ``params``, or, when the
    request is pushed, with only ``client_id`` and the ``request_uri`` it was given.
    ``SignInError`` when the provider refuses the push for a reason only the operator can
    fix; ``ProviderError`` when it cannot take it now (unreachable, 5xx)."""
    if not pushes(env.config, metadata):
        return authorization_url(metadata.authorization_endpoint, params)
    endpoint = metadata.pushed_authorization_request_endpoint
    if endpoint is None:
        reason = par_unavailable(env.config, metadata)
        yield env.log(ERROR, f"cannot sign in: {reason}", event=events.CONFIG_PAR_UNAVAILABLE)
        raise SignInError("par_unavailable", CONFIG_PROBLEM, status=502)
    # The same client authentication as the token endpoint's (RFC 9126 2).
    response = yield from env.post(env.token_request(params, url=endpoint), PAR_ENDPOINT)
    try:
        request_uri = request_uri_of(response)
    except TokenEndpointError as exc:
        if exc.error in CLIENT_ERRORS:
            raise (yield from client_rejected(env, exc, PAR_ENDPOINT)) from exc
        # The provider refuses the request itself (invalid_request, invalid_scope, a
        # redirect URI it does not know): the site's configuration, not the user's doing.
        detail = f": {exc.error_description}" if exc.error_description else ""
        yield env.log(
            ERROR,
            f"the {PAR_ENDPOINT} rejected the authorization request ({exc.error}{detail}); "
            "check after_sign_in_url, scopes and extra_authorize_params against the "
            "provider's application settings",
            event=events.SIGN_IN_PAR_REJECTED,
            client_id=env.config.client_id,
        )
        raise SignInError("par_rejected", CONFIG_PROBLEM, status=502) from exc
    return authorization_url(
        metadata.authorization_endpoint,
        {"client_id": env.config.client_id, "request_uri": request_uri},
    )


def request_uri_of(response: HttpResult) -> str:
    """The ``request_uri`` of a PAR answer (RFC 9126 2.2: 201 with JSON); an OAuth error
    (2.3) is a ``TokenEndpointError``, anything else unusable a ``ProviderError``."""
    status = response.status
    if status >= 500 or status == 429:
        raise ProviderError(f"the {PAR_ENDPOINT} answered HTTP {status}")
    data = parse_json_body(status, response.body, PAR_ENDPOINT)
    if status not in (200, 201) or "error" in data:
        error = oauth_error(data, status)
        if error is None:
            raise ProviderError(f"the {PAR_ENDPOINT} answered HTTP {status} without an error code")
        raise error
    request_uri = data.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise ProviderError(f"the {PAR_ENDPOINT} answered without a request_uri")
    return request_uri
