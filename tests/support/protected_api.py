"""A small protected API (a resource server), for the tests, the docs and the demo.

It plays the part of the downstream API in the "Accessing Protected APIs" guide: every
call must carry ``Authorization: Bearer <access token>``, checked by RFC 7662 token
introspection at the identity provider (as a confidential client).

Endpoints:
    GET  /users/me            the caller: introspection's ``sub``/``scope``/``client_id``
                              and, when the token may read it, the userinfo claims
    GET  /organizations       a static list of organizations for the caller's ``sub``
    GET  /health              200, no token needed
    POST /__test__/reject_next  {"count": n}: answer 401 to the next n API calls,
                              whatever their token (proves refresh-once-on-401)
    GET  /__test__/counts     {"calls": {path: n}, "rejected": n, "unauthorized": n,
                              "tokens": [sha256 prefix of each token received, in order]}
    POST /__test__/reset      zero the counters and the reject switch

Environment (read at start-up): ``PROTECTED_API_ISSUER`` (the IdP; default
``THUNDERID_BASE_URL``), ``PROTECTED_API_CLIENT_ID`` / ``PROTECTED_API_CLIENT_SECRET``
(default: the test IdP's ``conf-client`` / ``conf-secret``), ``PROTECTED_API_CA_BUNDLE``.

Run it with ``uvicorn tests.support.protected_api:app``; the ``protected_api`` pytest
fixture does that on a free port against the test IdP.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ORGANIZATIONS: dict[str, list[dict[str, str]]] = {
    "user-alice": [
        {"id": "org-wonderland", "name": "Wonderland Inc."},
        {"id": "org-looking-glass", "name": "Looking Glass Ltd."},
    ],
    "user-bob": [{"id": "org-builders", "name": "Builders Co."}],
}


@dataclass
class _State:
    calls: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    unauthorized: int = 0
    reject_next: int = 0
    tokens: list[str] = field(default_factory=list)


class _Provider:
    """Introspection and userinfo at the IdP (endpoints from its discovery document)."""

    def __init__(self) -> None:
        issuer = os.environ.get("PROTECTED_API_ISSUER") or os.environ.get("THUNDERID_BASE_URL")
        if not issuer:
            raise RuntimeError("set PROTECTED_API_ISSUER to the identity provider's URL")
        self.issuer = issuer.rstrip("/")
        self.credentials = (
            os.environ.get("PROTECTED_API_CLIENT_ID", "conf-client"),
            os.environ.get("PROTECTED_API_CLIENT_SECRET", "conf-secret"),
        )
        ca_bundle = os.environ.get("PROTECTED_API_CA_BUNDLE")
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        )
        self.http = httpx.AsyncClient(verify=verify, timeout=10.0)
        self.metadata: dict[str, Any] | None = None

    async def endpoint(self, name: str) -> str:
        if self.metadata is None:
            response = await self.http.get(self.issuer + "/.well-known/openid-configuration")
            response.raise_for_status()
            self.metadata = response.json()
        return str(self.metadata[name])

    async def introspect(self, token: str) -> dict[str, Any]:
        response = await self.http.post(
            await self.endpoint("introspection_endpoint"),
            data={"token": token, "token_type_hint": "access_token"},
            auth=self.credentials,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def userinfo(self, token: str) -> dict[str, Any] | None:
        response = await self.http.get(
            await self.endpoint("userinfo_endpoint"),
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.json() if response.status_code == 200 else None


state = _State()
provider: _Provider | None = None


def _unauthorized(description: str) -> JSONResponse:
    state.unauthorized += 1
    return JSONResponse(
        {"error": "invalid_token", "error_description": description},
        status_code=401,
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'
        },
    )


async def _authorize(request: Request) -> tuple[str, dict[str, Any]] | JSONResponse:
    """(token, introspection result) for an acceptable call, else the 401 to answer."""
    state.calls[request.url.path] += 1
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not token:
        return _unauthorized("a bearer token is required")
    state.tokens.append(hashlib.sha256(token.encode()).hexdigest()[:16])
    if state.reject_next > 0:
        state.reject_next -= 1
        state.rejected += 1
        return _unauthorized("rejected by the test switch")
    assert provider is not None
    info = await provider.introspect(token)
    if not info.get("active"):
        return _unauthorized("the token is not active")
    bound_to = (info.get("cnf") or {}).get("jkt")
    if bound_to is not None or scheme.lower() == "dpop":
        problem = _dpop_problem(request, scheme, token, bound_to)
        if problem is not None:
            return _unauthorized(problem)
    return token, info


def _dpop_problem(request: Request, scheme: str, token: str, bound_to: str | None) -> str | None:
    """Why a call with a DPoP-bound token is refused (RFC 9449 7), or None: the token is
    sent as ``DPoP`` with one proof signed by the key it is bound to, for this method and
    URL, with the token's hash, made just now."""
    proof = request.headers.get("dpop")
    if scheme.lower() != "dpop" or bound_to is None or not proof:
        return "a DPoP-bound token needs the DPoP scheme and a proof"
    try:
        header = jws.extract_compact(proof.encode()).protected
        key = ECKey.import_key(header["jwk"])
        claims = jwt.decode(proof, key, algorithms=["ES256"]).claims
    except (JoseError, KeyError, TypeError, ValueError):
        return "the DPoP proof is not a valid ES256 JWT with its key"
    url = request.url
    expected = {
        "typ": header.get("typ") == "dpop+jwt",
        "htm": claims.get("htm") == request.method,
        "htu": claims.get("htu") == f"{url.scheme}://{url.netloc}{url.path}",
        "ath": claims.get("ath")
        == base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode(),
        "jkt": key.thumbprint() == bound_to,
        "iat": abs(time.time() - float(claims.get("iat", 0))) < 300,
    }
    wrong = [name for name, ok in expected.items() if not ok]
    return f"the DPoP proof's {', '.join(wrong)} do not match" if wrong else None


async def users_me(request: Request) -> JSONResponse:
    checked = await _authorize(request)
    if isinstance(checked, JSONResponse):
        return checked
    token, info = checked
    profile: dict[str, Any] = {
        "sub": info["sub"],
        "scope": info.get("scope", ""),
        "client_id": info.get("client_id"),
    }
    # Userinfo serves tokens with the openid scope and no audience restriction.
    if "openid" in str(info.get("scope", "")).split() and info.get("aud") is None:
        assert provider is not None
        claims = await provider.userinfo(token)
        if claims and claims.get("sub") == info["sub"]:
            profile.update(claims)
    return JSONResponse(profile)


async def organizations(request: Request) -> JSONResponse:
    checked = await _authorize(request)
    if isinstance(checked, JSONResponse):
        return checked
    sub = checked[1]["sub"]
    return JSONResponse({"sub": sub, "organizations": ORGANIZATIONS.get(sub, [])})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def reject_next(request: Request) -> JSONResponse:
    body = await request.json()
    state.reject_next = int(body.get("count", 1))
    return JSONResponse({"reject_next": state.reject_next})


async def counts(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "calls": dict(state.calls),
            "rejected": state.rejected,
            "unauthorized": state.unauthorized,
            "tokens": state.tokens,
        }
    )


async def reset(request: Request) -> JSONResponse:
    global state
    state = _State()
    return JSONResponse({"ok": True})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global provider
    provider = _Provider()
    try:
        yield
    finally:
        await provider.http.aclose()


app = Starlette(
    routes=[
        Route("/users/me", users_me),
        Route("/organizations", organizations),
        Route("/health", health),
        Route("/__test__/reject_next", reject_next, methods=["POST"]),
        Route("/__test__/counts", counts),
        Route("/__test__/reset", reset, methods=["POST"]),
    ],
    lifespan=lifespan,
)


# -- pytest fixture -----------------------------------------------------------------------


@dataclass
class ProtectedAPI:
    """A running protected API, with its test switches."""

    url: str
    server: Any  # tests.support.servers.Server

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, self.url + path, json=body, timeout=10.0)
        response.raise_for_status()
        return response.json()

    def counts(self) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("GET", "/__test__/counts")
        return result

    def reject_next(self, count: int) -> None:
        self._admin("POST", "/__test__/reject_next", {"count": count})

    def reset(self) -> None:
        self._admin("POST", "/__test__/reset")


def start_protected_api(issuer: str, log_dir: Path, *, ca_bundle: str | None = None) -> Any:
    """Serve ``app`` under uvicorn on a free port; returns a ``servers.Server``."""
    from tests.support.servers import free_port, start_server

    env = {"PROTECTED_API_ISSUER": issuer}
    if ca_bundle:
        env["PROTECTED_API_CA_BUNDLE"] = ca_bundle
    return start_server(
        "uvicorn", "tests.support.protected_api:app", env, port=free_port(), log_dir=log_dir
    )


def serving_protected_api(idp: Any, log_dir: Path) -> Iterator[Any]:
    """The protected API trusting ``idp``'s tokens, for as long as the generator runs."""
    server = start_protected_api(idp.issuer, log_dir, ca_bundle=idp.ca_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def protected_api_server(idp: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serving_protected_api(idp, tmp_path_factory.mktemp("protected_api"))


@pytest.fixture
def protected_api(protected_api_server: Any) -> Iterator[ProtectedAPI]:
    """The protected API (shared by the session) with its counters reset for this test."""
    api = ProtectedAPI(protected_api_server.url, protected_api_server)
    api.reset()
    yield api
    api.reset()
