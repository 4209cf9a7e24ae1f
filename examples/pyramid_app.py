"""A Pyramid app with the package's security policy, behind ``ThunderIDWSGIMiddleware``.

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    gunicorn examples.pyramid_app:application --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from examples.pages import home_page, profile_page
from thunderid_mw import AuthContext, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.integrations import Requirement
from thunderid_mw.integrations.pyramid import get_auth

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")
SIGNED_IN = Requirement.of()  # a permission every signed-in user has


def home(request: Request) -> Response:
    return Response(home_page(get_auth(request)))


def profile(request: Request) -> Response:
    auth: AuthContext = request.identity  # the policy's identity: the signed-in context
    return Response(profile_page(auth))


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
