"""A Starlette app behind ``ThunderIDASGIMiddleware``.

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:8000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:8000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    uvicorn examples.starlette_app:app --port 8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from html import escape

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from thunderid_mw import AuthContext, ThunderIDASGIMiddleware, ThunderIDConfig
from thunderid_mw.integrations.starlette import (
    AuthRefused,
    auth_refused_handler,
    get_auth,
    require_auth,
)

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


def sign_out_form(auth: AuthContext) -> str:
    return (
        f'<form id="sign-out" method="post" action="{escape(auth.sign_out_path)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(auth.sign_out_csrf_token or "")}">'
        "<button>Sign out</button></form>"
    )


async def home(request: Request) -> HTMLResponse:
    auth = get_auth(request)
    if not auth.is_signed_in:
        link = escape(auth.sign_in_path("/profile"))
        return HTMLResponse(f'<a id="sign-in" href="{link}">Sign in</a>')
    name = escape(str(auth.user.get("name", auth.user.get("sub", ""))))
    return HTMLResponse(f"<p>Hello, {name}</p>{sign_out_form(auth)}")


async def profile(request: Request) -> HTMLResponse:
    auth = require_auth(request)  # signed out: redirect to sign in (browser) or 401
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="claim-{escape(k)}">{escape(str(v))}</td></tr>'
        for k, v in sorted(auth.user.items())
    )
    return HTMLResponse(f"<table>{rows}</table>{sign_out_form(auth)}")


async def api_me(request: Request) -> JSONResponse:
    auth = require_auth(request)
    async with httpx.AsyncClient(auth=auth.auth()) as api:
        answer = await api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    return JSONResponse(answer.json())


app = Starlette(
    routes=[Route("/", home), Route("/profile", profile), Route("/api/me", api_me)],
    middleware=[Middleware(ThunderIDASGIMiddleware, client=ThunderIDConfig.from_env())],
    exception_handlers={AuthRefused: auth_refused_handler},
)
