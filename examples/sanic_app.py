"""A Sanic app on Sanic's own server, with the ``ThunderID`` extension.

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    sanic examples.sanic_app:app --port 8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os

import httpx
from sanic import HTTPResponse, Request, Sanic
from sanic.response import html, json

from examples.pages import home_page, profile_page
from thunderid_mw import ThunderIDConfig
from thunderid_mw.integrations.sanic import ThunderID, get_auth, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")

app = Sanic("thunderid_example")
ThunderID(app, ThunderIDConfig.from_env())


@app.get("/")
async def home(request: Request) -> HTTPResponse:
    return html(home_page(get_auth(request)))


@app.get("/profile")
@login_required
async def profile(request: Request) -> HTTPResponse:
    return html(profile_page(get_auth(request)))


@app.get("/api/me")
@login_required
async def api_me(request: Request) -> HTTPResponse:
    async with httpx.AsyncClient(auth=get_auth(request).auth()) as api:
        answer = await api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    return json(answer.json())
