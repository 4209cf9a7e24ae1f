"""A Pyramid app with the package's security policy, behind ``ThunderIDWSGIMiddleware``.

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:8000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:8000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    gunicorn examples.pyramid_app:application --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

import httpx
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from thunderid_mw import AuthContext, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.integrations import Requirement
from thunderid_mw.integrations.pyramid import get_auth

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")
SIGNED_IN = Requirement.of()  # a permission every signed-in user has


def sign_out_form(auth: AuthContext) -> str:
    return (
        f'<form id="sign-out" method="post" action="{escape(auth.sign_out_path)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(auth.sign_out_csrf_token or "")}">'
        "<button>Sign out</button></form>"
    )


def home(request: Request) -> Response:
    auth = get_auth(request)
    if not auth.is_signed_in:
        link = escape(auth.sign_in_path("/profile"))
        return Response(f'<a id="sign-in" href="{link}">Sign in</a>')
    name = escape(str(auth.user.get("name", auth.user.get("sub", ""))))
    return Response(f"<p>Hello, {name}</p>{sign_out_form(auth)}")


def profile(request: Request) -> Response:
    auth: AuthContext = request.identity  # the policy's identity: the signed-in context
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="claim-{escape(k)}">{escape(str(v))}</td></tr>'
        for k, v in sorted(auth.user.items())
    )
    return Response(f"<table>{rows}</table>{sign_out_form(auth)}")


def api_me(request: Request) -> Any:
    with httpx.Client(auth=request.identity.auth()) as api:
        answer = api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    return answer.json()


with Configurator() as config:
    config.include("thunderid_mw.integrations.pyramid")  # security policy + forbidden view
    config.add_route("home", "/")
    config.add_route("profile", "/profile")
    config.add_route("api_me", "/api/me")
    config.add_view(home, route_name="home")
    config.add_view(profile, route_name="profile", permission=SIGNED_IN)
    config.add_view(api_me, route_name="api_me", permission=SIGNED_IN, renderer="json")
    app = config.make_wsgi_app()

application = ThunderIDWSGIMiddleware(app, ThunderIDConfig.from_env())
