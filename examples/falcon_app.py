"""A Falcon (WSGI) app behind ``ThunderIDWSGIMiddleware``.

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:8000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:8000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    gunicorn examples.falcon_app:application --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

import falcon
import httpx

from thunderid_mw import AuthContext, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.integrations.falcon import get_auth, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


def sign_out_form(auth: AuthContext) -> str:
    return (
        f'<form id="sign-out" method="post" action="{escape(auth.sign_out_path)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(auth.sign_out_csrf_token or "")}">'
        "<button>Sign out</button></form>"
    )


class Home:
    def on_get(self, req: Any, resp: Any) -> None:
        auth = get_auth(req)
        resp.content_type = falcon.MEDIA_HTML
        if not auth.is_signed_in:
            link = escape(auth.sign_in_path("/profile"))
            resp.text = f'<a id="sign-in" href="{link}">Sign in</a>'
            return
        name = escape(str(auth.user.get("name", auth.user.get("sub", ""))))
        resp.text = f"<p>Hello, {name}</p>{sign_out_form(auth)}"


class Profile:
    @falcon.before(login_required)
    def on_get(self, req: Any, resp: Any) -> None:
        auth = get_auth(req)
        rows = "".join(
            f'<tr><th>{escape(k)}</th><td class="claim-{escape(k)}">{escape(str(v))}</td></tr>'
            for k, v in sorted(auth.user.items())
        )
        resp.content_type = falcon.MEDIA_HTML
        resp.text = f"<table>{rows}</table>{sign_out_form(auth)}"


class Me:
    @falcon.before(login_required)
    def on_get(self, req: Any, resp: Any) -> None:
        with httpx.Client(auth=get_auth(req).auth()) as api:
            answer = api.get(f"{PROFILE_API_URL}/users/me")
        answer.raise_for_status()
        resp.media = answer.json()


app = falcon.App()
app.add_route("/", Home())
app.add_route("/profile", Profile())
app.add_route("/api/me", Me())
application = ThunderIDWSGIMiddleware(app, ThunderIDConfig.from_env())
