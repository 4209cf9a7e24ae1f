"""A Starlette app behind ``ThunderIDASGIMiddleware``.

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    uvicorn examples.starlette_app:app --port 8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from examples.pages import home_page, profile_page
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig
from thunderid_mw.integrations.starlette import (
    AuthRefused,
    auth_refused_handler,
    get_auth,
    require_auth,
)

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(home_page(get_auth(request)))


async def profile(request: Request) -> HTMLResponse:
    # require_auth: signed out, a browser is sent to sign in and back, code gets 401.
    return HTMLResponse(profile_page(require_auth(request)))


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
