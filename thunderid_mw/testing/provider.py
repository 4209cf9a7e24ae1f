"""``FakeProvider``: a small OpenID provider for an app's own tests.

It serves discovery, JWKS, the token, revocation and end-session endpoints on a local
port (a real HTTP server in a thread), so the app's middleware talks to it exactly as it
talks to ThunderID: the sign-in callback exchanges a real code, validates a real signed ID
token, and refreshes against a real token endpoint. Only the login screen is skipped: the
kit answers the authorization request itself, for the user a test chose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "test-app"
DEFAULT_APP_URL = "http://localhost"
SIGNING_KID = "fake-provider-1"


@dataclass(frozen=True, slots=True)
class FakeUser:
    """Who the provider signs in: ``sub``, the ID token's other claims, the scopes granted
    and the access token's lifetime (``expires_in`` 0: expired at once, so the next request
    refreshes it; ``refresh=False``: no refresh token, so the session ends with it)."""

    sub: str = "user-1"
    claims: Mapping[str, Any] = field(default_factory=dict)
    scopes: tuple[str, ...] = ("openid", "profile")
    expires_in: int = 3600
    refresh: bool = True


@dataclass(slots=True)
class _Grant:
    user: FakeUser
    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    sid: str


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeProvider:
    """An in-process OpenID provider. ``start()`` serves it; ``config()`` (or
    ``environ()``) gives the app's middleware settings that point at it."""

    def __init__(self) -> None:
        self.client_id = CLIENT_ID
        self.client_secret = secrets.token_urlsafe(24)
        self._key = RSAKey.generate_key(2048, parameters={"kid": SIGNING_KID})
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.issuer = ""
        self.reset()

    # Serving ----------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        if self._server is None:
            self._server = make_server(
                "127.0.0.1", 0, self.wsgi_app, server_class=_Server, handler_class=_QuietHandler
            )
            self.issuer = f"http://127.0.0.1:{self._server.server_port}"
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="thunderid-fake-provider", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        """Forget every grant and reset every switch (the ``thunderid`` fixture calls this
        before each test)."""
        with self._lock:
            self._codes: dict[str, _Grant] = {}
            self._refresh_tokens: dict[str, _Grant] = {}
            self.refusing_refresh: str | None = None
            self.next_user = FakeUser()
            self.refresh_count = 0
            self.revoked: list[str] = []
            self.end_session_calls: list[dict[str, str]] = []

    # What the tests switch ----------------------------------------------------------------

    def reject_refresh(self, error: str = "invalid_grant") -> None:
        """From now on the token endpoint refuses every refresh with ``error`` (the
        session then ends as ``refresh_rejected``)."""
        self.refusing_refresh = error

    def accept_refresh(self) -> None:
        self.refusing_refresh = None

    # The authorization endpoint, answered in-process ---------------------------------------

    def authorize(self, authorize_url: str, user: FakeUser) -> str:
        """The callback URL the provider would send the browser to after ``user`` signed
        in at ``authorize_url`` (the login screen, skipped)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        if query.get("client_id") != self.client_id:
            raise ValueError(f"the authorization request names client {query.get('client_id')!r}")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                user=user,
                client_id=self.client_id,
                redirect_uri=query["redirect_uri"],
                nonce=query.get("nonce"),
                code_challenge=query.get("code_challenge"),
                sid=secrets.token_urlsafe(12),
            )
        answer = {"code": code, "state": query.get("state", ""), "iss": self.issuer}
        return query["redirect_uri"] + "?" + urlencode(answer)

    # Tokens -----------------------------------------------------------------------------

    def id_token(self, grant: _Grant, *, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            **grant.user.claims,
            "iss": self.issuer,
            "sub": grant.user.sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "sid": grant.sid,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return self._sign(claims)

    def logout_token(self, *, sub: str | None = None, sid: str | None = None) -> str:
        """A signed back-channel logout token naming ``sub`` and/or ``sid``."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(12),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        if sub is not None:
            claims["sub"] = sub
        if sid is not None:
            claims["sid"] = sid
        return self._sign(claims)

    def _sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": SIGNING_KID}, dict(claims), self._key)

    def _token_answer(self, grant: _Grant, *, nonce: str | None) -> dict[str, Any]:
        user = grant.user
        answer: dict[str, Any] = {
            "access_token": "fake-at-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": user.expires_in,
            "scope": " ".join(user.scopes),
            "id_token": self.id_token(grant, nonce=nonce),
        }
        if user.refresh:
            refresh_token = "fake-rt-" + secrets.token_urlsafe(24)
            self._refresh_tokens[refresh_token] = grant
            answer["refresh_token"] = refresh_token
        return answer

    # The HTTP side ------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "revocation_endpoint": self.issuer + "/revoke",
            "end_session_endpoint": self.issuer + "/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "code_challenge_methods_supported": ["S256"],
        }

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/.well-known/openid-configuration":
            return _json(start_response, 200, self.discovery())
        if path == "/jwks":
            return _json(start_response, 200, KeySet([self._key]).as_dict(private=False))
        if path == "/logout":
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            self.end_session_calls.append(query)
            target = query.get("post_logout_redirect_uri", "/")
            start_response("302 Found", [("Location", target), ("Content-Length", "0")])
            return [b""]
        if method != "POST" or path not in ("/token", "/revoke"):
            return _json(start_response, 404, {"error": "not_found"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = {
            k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode("ascii")).items()
        }
        if not self._client_authenticated(environ, form):
            return _json(start_response, 401, {"error": "invalid_client"})
        if path == "/revoke":
            self.revoked.append(form.get("token", ""))
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        status, answer = self._token(form)
        return _json(start_response, status, answer)

    def _client_authenticated(self, environ: Mapping[str, Any], form: Mapping[str, str]) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Basic "):
            given = base64.b64decode(header[6:]).decode()
            expected = f"{self.client_id}:{self.client_secret}"
            return hmac.compare_digest(given, expected)
        return form.get("client_id") == self.client_id and hmac.compare_digest(
            form.get("client_secret", ""), self.client_secret
        )

    def _token(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}
                if grant.code_challenge is not None and grant.code_challenge != _s256(
                    form.get("code_verifier", "")
                ):
                    return 400, {"error": "invalid_grant", "error_description": "PKCE"}
                return 200, self._token_answer(grant, nonce=grant.nonce)
            if grant_type == "refresh_token":
                self.refresh_count += 1
                if self.refusing_refresh is not None:
                    return 400, {"error": self.refusing_refresh}
                grant = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
                if grant is None:
                    return 400, {"error": "invalid_grant"}
                return 200, self._token_answer(grant, nonce=None)
        return 400, {"error": "unsupported_grant_type"}


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _json(start_response: Any, status: int, doc: Mapping[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
