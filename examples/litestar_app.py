"""A Litestar app with ``ThunderIDPlugin``.

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    uvicorn examples.litestar_app:app --port 8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from litestar import Litestar, MediaType, get

from examples.pages import home_page, profile_page
from thunderid_mw import ThunderIDConfig
from thunderid_mw.integrations.litestar import CurrentAuth, ThunderIDPlugin, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


@get("/", media_type=MediaType.HTML)
async def home(auth: CurrentAuth) -> str:
    return home_page(auth)


@get("/profile", guards=[login_required], media_type=MediaType.HTML)
async def profile(auth: CurrentAuth) -> str:
    return profile_page(auth)


@get("/api/me", guards=[login_required])
async def api_me(auth: CurrentAuth) -> dict[str, Any]:
    async with httpx.AsyncClient(auth=auth.auth()) as api:
        answer = await api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    me: dict[str, Any] = answer.json()
    return me


app = Litestar([home, profile, api_me], plugins=[ThunderIDPlugin(ThunderIDConfig.from_env())])
