"""An OpenID provider in memory, served to the clients through ``httpx.MockTransport``: the
fast in-process adapter tests use it instead of the Node test IdP (which the real-server
tests keep using). It does what the middleware can observe of a provider — discovery,
JWKS, an authorization step that hands out a code bound to the request's nonce and PKCE
challenge, the code and refresh grants (with rotation), revocation and end-session — and
counts what it was asked."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

ISSUER = "https://idp.mock"
KEY = RSAKey.generate_key(2048, parameters={"kid": "mock-1"})


def provider_metadata(issuer: str) -> dict[str, Any]:
    """The discovery document of an in-memory provider at ``issuer``."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "jwks_uri": issuer + "/jwks",
        "revocation_endpoint": issuer + "/revoke",
        "end_session_endpoint": issuer + "/logout",
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }


@dataclass
class _Grant:
    sub: str
    nonce: str
    challenge: str
    redirect_uri: str


@dataclass
class MockProvider:
    client_id: str
    client_secret: str
    access_token_ttl: int = 3600
    calls: Counter[str] = field(default_factory=Counter)
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _refresh: dict[str, str] = field(default_factory=dict)  # live refresh token -> sub
    revoked: set[str] = field(default_factory=set)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    # The browser's part ------------------------------------------------------------------

    def authorize(self, url: str, sub: str = "user-alice") -> str:
        """The user signs in at ``url`` (the authorization request): the redirect back."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert url.startswith(ISSUER + "/authorize?"), url
        assert query["client_id"] == self.client_id and query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self._codes[code] = _Grant(
            sub, query["nonce"], query["code_challenge"], query["redirect_uri"]
        )
        back = {"code": code, "state": query["state"], "iss": ISSUER}
        return query["redirect_uri"] + "?" + urlencode(back)

    # The endpoints -----------------------------------------------------------------------

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[path] += 1
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.metadata())
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [KEY.as_dict(private=False)]})
        if path == "/token":
            return self._token(request)
        if path == "/revoke":
            self.revoked.add(parse_qs(request.content.decode())["token"][0])
            return httpx.Response(200)
        return httpx.Response(404, json={"error": "not_found"})

    def metadata(self) -> dict[str, Any]:
        return provider_metadata(ISSUER)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {basic}":
            return httpx.Response(401, json={"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            grant = self._codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant is None or challenge != grant.challenge:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return self._tokens(grant.sub, nonce=grant.nonce)
        if form.get("grant_type") == "refresh_token":
            sub = self._refresh.pop(form.get("refresh_token", ""), None)
            if sub is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return self._tokens(sub, nonce=None)
        return httpx.Response(400, json={"error": "unsupported_grant_type"})

    def _tokens(self, sub: str, *, nonce: str | None) -> httpx.Response:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "name": "Alice Liddell",
        }
        if nonce is not None:
            claims["nonce"] = nonce
            claims["auth_time"] = now
        id_token = jwt.encode({"alg": "RS256", "kid": "mock-1"}, claims, KEY)
        refresh = secrets.token_urlsafe(16)
        self._refresh[refresh] = sub
        body = {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
            "id_token": id_token,
            "scope": "openid profile",
        }
        return httpx.Response(200, content=json.dumps(body).encode(), headers=_JSON)


_JSON = {"Content-Type": "application/json"}
