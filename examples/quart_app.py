"""A Quart app behind ``ThunderIDASGIMiddleware``, served by Hypercorn (Quart's own server).

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    hypercorn examples.quart_app:app --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from quart import Quart

from examples.pages import home_page, profile_page
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig
from thunderid_mw.integrations.quart import current_auth, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")

app = Quart(__name__)
# Quart types asgi_app with its own ASGI TypedDicts (HTTPScope, ...), which a
# MutableMapping[str, Any] scope cannot match; the two interoperate at run time.
app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, ThunderIDConfig.from_env())  # type: ignore[method-assign, arg-type, assignment]


@app.get("/")
async def home() -> str:
    return home_page(current_auth())


@app.get("/profile")
@login_required
async def profile() -> str:
    return profile_page(current_auth())


@app.get("/api/me")
@login_required
async def api_me() -> dict[str, Any]:
    async with httpx.AsyncClient(auth=current_auth().auth()) as api:
        answer = await api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    me: dict[str, Any] = answer.json()
    return me
