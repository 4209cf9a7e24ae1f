"""A one-file Django project behind the middleware: ``application`` for a WSGI server,
``asgi_application`` for an ASGI one (the same views, sync and async, under either).

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:8000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:8000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    gunicorn examples.django_app:application --bind 127.0.0.1:8000
    # or: uvicorn examples.django_app:asgi_application --port 8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (an async view calling the protected API with the user's
access token).
"""

from __future__ import annotations

import os
from html import escape

import httpx
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-" + "x" * 40),
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=["thunderid_mw.integrations.django.AuthContextMiddleware"],
)

from django.core.asgi import get_asgi_application  # noqa: E402  (after settings)
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from thunderid_mw import (  # noqa: E402
    AuthContext,
    ThunderIDASGIMiddleware,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.integrations.django import get_auth, login_required  # noqa: E402

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


def sign_out_form(auth: AuthContext) -> str:
    return (
        f'<form id="sign-out" method="post" action="{escape(auth.sign_out_path)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(auth.sign_out_csrf_token or "")}">'
        "<button>Sign out</button></form>"
    )


def home(request: HttpRequest) -> HttpResponse:
    auth = get_auth(request)
    if not auth.is_signed_in:
        link = escape(auth.sign_in_path("/profile"))
        return HttpResponse(f'<a id="sign-in" href="{link}">Sign in</a>')
    name = escape(str(auth.user.get("name", auth.user.get("sub", ""))))
    return HttpResponse(f"<p>Hello, {name}</p>{sign_out_form(auth)}")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    auth = get_auth(request)
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="claim-{escape(k)}">{escape(str(v))}</td></tr>'
        for k, v in sorted(auth.user.items())
    )
    return HttpResponse(f"<table>{rows}</table>{sign_out_form(auth)}")


@login_required
async def api_me(request: HttpRequest) -> JsonResponse:
    async with httpx.AsyncClient(auth=get_auth(request).auth()) as api:
        answer = await api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    return JsonResponse(answer.json())


urlpatterns = [path("", home), path("profile", profile), path("api/me", api_me)]

application = ThunderIDWSGIMiddleware(get_wsgi_application(), ThunderIDConfig.from_env())
asgi_application = ThunderIDASGIMiddleware(get_asgi_application(), ThunderIDConfig.from_env())
