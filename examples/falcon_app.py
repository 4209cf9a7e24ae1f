"""A Falcon (WSGI) app behind ``ThunderIDWSGIMiddleware``.

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    gunicorn examples.falcon_app:application --bind 127.0.0.1:8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (calls the protected API with the user's access token).
"""

from __future__ import annotations

import os
from typing import Any

import falcon
import httpx

from examples.pages import home_page, profile_page
from thunderid_mw import ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.integrations.falcon import get_auth, login_required

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


class Home:
    def on_get(self, req: Any, resp: Any) -> None:
        auth = get_auth(req)
        resp.content_type = falcon.MEDIA_HTML
        resp.text = home_page(auth)


class Profile:
    @falcon.before(login_required)
    def on_get(self, req: Any, resp: Any) -> None:
        auth = get_auth(req)
        resp.content_type = falcon.MEDIA_HTML
        resp.text = profile_page(auth)


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
