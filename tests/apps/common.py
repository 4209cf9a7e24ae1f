"""What the test apps answer, shared by the WSGI and ASGI test apps.

Endpoints (``/private`` and ``/api/`` are protected by the middleware):
    /public          200 text, signed in or not
    /private         200 text with the user's sub
    /api/whoami      200 JSON: sub, auth_time, a hash of the access token, expires_at, pid
    /api/token       200 JSON: the access token itself (tests compare tokens across requests)
    /links           200 JSON: the context's sign-in and sign-out paths (mount prefixes)
    /private/named   200 text; path_requirements: the claim name = "Alice Liddell"
    /api/admin       path_requirements: the role admin (no test user has it: 403)
    /api/upstream    the protected API's /users/me called with ctx.auth() (PROTECTED_API_URL):
                     {"status", "body"} as the API answered
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import httpx

from thunderid_mw import AuthContext, ThunderIDConfig
from thunderid_mw.integrations import Requirement


def config_from_env() -> ThunderIDConfig:
    """The app's config: THUNDERID_* variables set by the test that starts the server."""
    return ThunderIDConfig.from_env(
        protected_paths=("/private", "/api"),
        path_requirements={
            "/private/named": Requirement.of(claims={"name": "Alice Liddell"}),
            "/api/admin": Requirement.of(roles="admin"),
        },
    )


def answer(path: str, ctx: AuthContext) -> tuple[int, str, bytes]:
    """(status, content type, body) for ``path``."""
    if path == "/public":
        text = f"public signed_in={ctx.is_signed_in} ended={ctx.ended_reason}"
        return 200, "text/plain", text.encode()
    if path == "/private/named":
        return 200, "text/plain", f"named {ctx.user.get('name')}".encode()
    if path == "/private":
        return 200, "text/plain", f"private sub={ctx.user.get('sub')}".encode()
    if path == "/api/whoami":
        return (
            200,
            "application/json",
            _json(
                {
                    "signed_in": ctx.is_signed_in,
                    "sub": ctx.user.get("sub"),
                    "auth_time": ctx.user.get("auth_time"),
                    "token_sha": hashlib.sha256((ctx.access_token or "").encode()).hexdigest()[:16],
                    "expires_at": ctx.expires_at,
                    "pid": os.getpid(),
                }
            ),
        )
    if path == "/links":
        links = {"sign_in": ctx.sign_in_path("/here"), "sign_out": ctx.sign_out_path}
        return 200, "application/json", _json(links)
    if path == "/api/token":
        return (
            200,
            "application/json",
            _json({"access_token": ctx.access_token, "pid": os.getpid()}),
        )
    return 404, "text/plain", b"not found"


UPSTREAM_PATH = "/api/upstream"


def upstream_url() -> str:
    return os.environ["PROTECTED_API_URL"].rstrip("/") + "/users/me"


def upstream_answer(response: httpx.Response) -> tuple[int, str, bytes]:
    return 200, "application/json", _json({"status": response.status_code, "body": response.json()})


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
