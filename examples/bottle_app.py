"""A Bottle app behind ``ThunderIDWSGIMiddleware``.

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    gunicorn examples.bottle_app:application --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from typing import Any

import bottle
import httpx

from examples.pages import home_page, profile_page
from thunderid_mw import AuthContext, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.integrations.bottle import ThunderIDPlugin, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")

app = bottle.Bottle()
app.install(ThunderIDPlugin())  # handlers taking an ``auth`` argument receive it


@app.get("/")
def home(auth: AuthContext) -> str:
    return home_page(auth)


@app.get("/profile")
@login_required
def profile(auth: AuthContext) -> str:
    return profile_page(auth)


@app.get("/api/me")
@login_required
def api_me(auth: AuthContext) -> dict[str, Any]:
    with httpx.Client(auth=auth.auth()) as api:
        answer = api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    me: dict[str, Any] = answer.json()
    return me


application = ThunderIDWSGIMiddleware(app, ThunderIDConfig.from_env())
