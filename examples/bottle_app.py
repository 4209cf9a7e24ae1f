"""A Bottle app behind ``ThunderIDWSGIMiddleware``.

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:8000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:8000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    gunicorn examples.bottle_app:application --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

import bottle
import httpx

from thunderid_mw import AuthContext, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.integrations.bottle import ThunderIDPlugin, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")

app = bottle.Bottle()
app.install(ThunderIDPlugin())  # handlers taking an ``auth`` argument receive it


def sign_out_form(auth: AuthContext) -> str:
    return (
        f'<form id="sign-out" method="post" action="{escape(auth.sign_out_path)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(auth.sign_out_csrf_token or "")}">'
        "<button>Sign out</button></form>"
    )


@app.get("/")
def home(auth: AuthContext) -> str:
    if not auth.is_signed_in:
        return f'<a id="sign-in" href="{escape(auth.sign_in_path("/profile"))}">Sign in</a>'
    name = escape(str(auth.user.get("name", auth.user.get("sub", ""))))
    return f"<p>Hello, {name}</p>{sign_out_form(auth)}"


@app.get("/profile")
@login_required
def profile(auth: AuthContext) -> str:
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="claim-{escape(k)}">{escape(str(v))}</td></tr>'
        for k, v in sorted(auth.user.items())
    )
    return f"<table>{rows}</table>{sign_out_form(auth)}"


@app.get("/api/me")
@login_required
def api_me(auth: AuthContext) -> dict[str, Any]:
    with httpx.Client(auth=auth.auth()) as api:
        answer = api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    me: dict[str, Any] = answer.json()
    return me


application = ThunderIDWSGIMiddleware(app, ThunderIDConfig.from_env())
