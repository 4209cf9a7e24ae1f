"""When does the refresh token expire? Token introspection (RFC 7662) answers it.

ThunderID keeps the first refresh token's expiry across rotations, so learning it once at
sign-in bounds the whole session: it ends (as ``expired``) when its refresh token would,
instead of failing at the next refresh. A JWT refresh token carries ``exp`` itself; an
opaque one is introspected when the client can authenticate (a confidential client).
Any failure just leaves the expiry unknown: sign-in never fails for it.
"""

from __future__ import annotations

import json

from . import events
from .effects import Flow
from .env import WARNING, FlowEnv
from .errors import ProviderError
from .tokens import TokenSet, json_number, jwt_exp


def refresh_token_expiry(env: FlowEnv, tokens: TokenSet) -> Flow[float | None]:
    """The refresh token's expiry (Unix time), if the provider says it or the token does."""
    token = tokens.refresh_token
    if token is None:
        return None
    if tokens.refresh_expires_at is not None:
        return tokens.refresh_expires_at
    exp = jwt_exp(token)
    if exp is not None:
        return exp
    metadata = yield from env.provider()
    if metadata.introspection_endpoint is None or env.config.auth_method == "none":
        return None
    request = env.token_request(
        {"token": token, "token_type_hint": "refresh_token"},
        url=metadata.introspection_endpoint,
    )
    try:
        response = yield from env.post(request, "introspection endpoint")
        doc = json.loads(response.body) if response.status == 200 else None
    except (ProviderError, ValueError) as exc:
        yield env.log(
            WARNING, f"refresh token expiry unknown: {exc}", event=events.TOKEN_EXPIRY_UNKNOWN
        )
        return None
    if isinstance(doc, dict) and doc.get("active") is True:
        return json_number(doc.get("exp"))
    return None
