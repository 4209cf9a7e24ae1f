"""Token endpoint requests and responses (RFC 6749 sections 2.3.1, 4.1.3, 5.1, 5.2, 6)."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from .config import ClientAuthMethod
from .crypto import b64url_decode
from .errors import ProviderError, TokenEndpointError

MAX_RESPONSE_BYTES = 1 << 20
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """The tokens of one session, with absolute expiry times (Unix seconds)."""

    access_token: str
    token_type: str = "Bearer"
    expires_at: float | None = None
    refresh_token: str | None = None
    id_token: str | None = None
    scopes: tuple[str, ...] = ()
    refresh_expires_at: float | None = None
    # DPoP (RFC 9449): the private JWK the tokens are bound to (kept sealed in the record).
    dpop_key: str | None = None

    def __repr__(self) -> str:  # never shows a token
        present = [n for n in ("refresh_token", "id_token") if getattr(self, n)]
        return (
            f"TokenSet(token_type={self.token_type!r}, expires_at={self.expires_at!r}, "
            f"scopes={self.scopes!r}, with={present!r})"
        )

    @property
    def is_dpop_bound(self) -> bool:
        """The access token is DPoP-bound: presented with a proof of ``dpop_key``. A Bearer
        answer to a DPoP request (RFC 9449 5 allows one) keeps the key, for later refreshes,
        but its access token is used as Bearer."""
        return self.dpop_key is not None and self.token_type.lower() == "dpop"

    def merged_with(self, newer: TokenSet) -> TokenSet:
        """The result of a refresh: fields the provider did not send again are kept
        (RFC 6749 6: the refresh token and scope may be omitted)."""
        return TokenSet(
            access_token=newer.access_token,
            token_type=newer.token_type,
            expires_at=newer.expires_at,
            refresh_token=newer.refresh_token or self.refresh_token,
            id_token=newer.id_token or self.id_token,
            scopes=newer.scopes or self.scopes,
            # ThunderID keeps the first refresh token's expiry across rotations.
            refresh_expires_at=newer.refresh_expires_at or self.refresh_expires_at,
            dpop_key=newer.dpop_key or self.dpop_key,
        )


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A POST to the token (or revocation, introspection) endpoint, ready to send."""

    url: str
    form: dict[str, str] = field(repr=False)  # codes, tokens, client secrets
    headers: dict[str, str] = field(repr=False)  # Authorization
    # private_key_jwt: the driver signs the RFC 7523 assertion (fresh jti, short exp) and
    # adds it as ``client_assertion`` when it sends the request; the core holds no key.
    client_assertion: bool = False
    # DPoP: the driver adds a fresh proof made with this key (and the server's nonce).
    dpop_key: str | None = field(default=None, repr=False)
    # The DPoP-bound access token in ``Authorization`` (its hash goes into the proof).
    dpop_access_token: str | None = field(default=None, repr=False)


def client_auth(
    method: ClientAuthMethod, client_id: str, client_secret: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Form fields and headers that authenticate the client (RFC 6749 2.3.1)."""
    if method == "client_secret_basic":
        # Both parts are form-urlencoded before base64 (RFC 6749 2.3.1).
        raw = f"{quote(client_id, safe='')}:{quote(client_secret or '', safe='')}"
        token = base64.b64encode(raw.encode()).decode()
        return {}, {"Authorization": f"Basic {token}"}
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": client_secret or ""}, {}
    if method == "private_key_jwt":
        return {"client_id": client_id, "client_assertion_type": CLIENT_ASSERTION_TYPE}, {}
    return {"client_id": client_id}, {}


def build_token_request(
    url: str,
    params: Mapping[str, str],
    *,
    method: ClientAuthMethod,
    client_id: str,
    client_secret: str | None,
    bearer: str | None = None,
    dpop_key: str | None = None,
    dpop_bound_token: str | None = None,
) -> TokenRequest:
    """A token-endpoint request; ``bearer`` or ``dpop_bound_token`` (with ``dpop_key``)
    presents an access token in ``Authorization`` (for providers that ask for one)."""
    auth_form, headers = client_auth(method, client_id, client_secret)
    form = dict(params)
    for name, value in auth_form.items():
        form.setdefault(name, value)
    headers = {"Accept": "application/json", **headers}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    elif dpop_bound_token is not None:  # with a proof naming it (RFC 9449 7.1)
        headers["Authorization"] = f"DPoP {dpop_bound_token}"
    return TokenRequest(
        url=url,
        form=form,
        headers=headers,
        client_assertion=method == "private_key_jwt",
        dpop_key=dpop_key,
        dpop_access_token=dpop_bound_token,
    )


def parse_json_body(status: int, body: bytes, what: str) -> dict[str, Any]:
    """The JSON object in a provider's answer, or a ProviderError saying what was wrong."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise ProviderError(f"the {what} answer is too large ({len(body)} bytes)")
    try:
        data = json.loads(body)
    except ValueError:
        raise ProviderError(
            f"the {what} answered HTTP {status} with a body that is not JSON"
        ) from None
    if not isinstance(data, dict):
        raise ProviderError(f"the {what} answered HTTP {status} with JSON that is not an object")
    return data


def oauth_error(data: Mapping[str, Any], status: int) -> TokenEndpointError | None:
    """The OAuth error (RFC 6749 5.2) an endpoint's JSON answer holds; None when it names
    no error code."""
    error = data.get("error")
    if not isinstance(error, str):
        return None
    description = data.get("error_description")
    return TokenEndpointError(
        error, description if isinstance(description, str) else None, status=status
    )


#: ``TokenEndpointError.error`` for a 400 whose body is not an OAuth error.
NOT_AN_OAUTH_ERROR = "http_400"


def parse_token_response(
    status: int, body: bytes, now: float, *, dpop_key: str | None = None
) -> TokenSet:
    """A ``TokenSet`` from a token endpoint answer; ``TokenEndpointError`` for an OAuth error
    (RFC 6749 5.2), ``ProviderError`` for anything else unusable."""
    if status >= 500 or status == 429:
        raise ProviderError(f"the token endpoint answered HTTP {status}")
    try:
        data = parse_json_body(status, body, "token endpoint")
    except ProviderError:
        if status == 400:  # some providers answer a revoked refresh token with a bare 400
            raise TokenEndpointError(NOT_AN_OAUTH_ERROR, "HTTP 400 without a JSON body") from None
        raise
    if status != 200 or "error" in data:
        error = oauth_error(data, status)
        if error is not None:
            raise error
        if status == 400:
            raise TokenEndpointError(NOT_AN_OAUTH_ERROR, "HTTP 400 without an error code")
        raise ProviderError(f"the token endpoint answered HTTP {status} without an error code")
    return accepted_token_set(data, now, dpop_key=dpop_key)


def accepted_token_set(data: dict[str, Any], now: float, *, dpop_key: str | None) -> TokenSet:
    """The tokens of a successful token-endpoint answer, refused when they are of a type
    this client cannot use; DPoP-bound ones remember ``dpop_key``."""
    tokens = token_set_from_json(data, now)
    if dpop_key is not None and tokens.token_type.lower() == "dpop":
        return replace(tokens, dpop_key=dpop_key)
    # Asked for a bound token, a Bearer one may still come (RFC 9449 5): used as Bearer.
    # RFC 6749 7.1: a client must not use a token of a type it does not understand.
    # DPoP-bound tokens need proofs, sent only when DPoP is configured.
    if tokens.token_type.lower() != "bearer":
        raise ProviderError(
            f"the token endpoint issued a {tokens.token_type!r} token; only Bearer tokens "
            "can be used unless ThunderIDConfig.dpop is on"
        )
    return tokens


def jwt_exp(token: str) -> float | None:
    """The ``exp`` of a token that is a JWT (read, not verified: only its own issuer's
    clock is wanted), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    raw = b64url_decode(parts[1])
    try:
        claims = json.loads(raw) if raw else None
    except ValueError:
        return None
    return json_number(claims.get("exp")) if isinstance(claims, dict) else None


def token_set_from_json(data: Mapping[str, Any], now: float) -> TokenSet:
    """``now`` is the provider's time of the answer where known; a JWT access token's own
    ``exp`` is the provider's clock itself and wins over ``now + expires_in``."""
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProviderError("the token endpoint answer has no access_token")
    token_type = str(data.get("token_type") or "Bearer")
    expires_in = json_number(data.get("expires_in"), strings=True)
    refresh_expires_in = json_number(
        data.get("refresh_expires_in") or data.get("refresh_token_expires_in"), strings=True
    )
    refresh_token = data.get("refresh_token")
    id_token = data.get("id_token")
    scope = data.get("scope")
    return TokenSet(
        access_token=access_token,
        token_type=token_type,
        expires_at=jwt_exp(access_token) or (None if expires_in is None else now + expires_in),
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        refresh_expires_at=None if refresh_expires_in is None else now + refresh_expires_in,
    )


def json_number(value: object, *, strings: bool = False) -> float | None:
    """A finite JSON number (never a bool), or None. ``strings`` also accepts a numeric
    string: some providers send ``expires_in`` as ``"3600"``; a JWT's ``exp`` must be a
    number (RFC 7519 NumericDate), so it does not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif strings and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
