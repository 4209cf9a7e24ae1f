"""A one-file Django project with the middleware in ``MIDDLEWARE``: ``application`` for a
WSGI server, ``asgi_application`` for an ASGI one (the same views, sync and async, under
either), and Django's own test clients (``tests/examples/test_examples_with_the_kit.py``).

    # first the THUNDERID_* and PROFILE_API_URL settings of examples/README.md, then:
    gunicorn examples.django_app:application --bind 127.0.0.1:8000
    # or: uvicorn examples.django_app:asgi_application --port 8000

Pages: ``/`` (public: sign-in link or sign-out form), ``/profile`` (signed-in only: the
user's claims), ``/api/me`` (an async view calling the protected API with the user's
access token).
"""

from __future__ import annotations

import os

import httpx
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-" + "x" * 40),
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    # Settings from THUNDERID_* (or set THUNDERID = ThunderIDConfig(...) here).
    MIDDLEWARE=["thunderid_mw.integrations.django.ThunderIDMiddleware"],
)

from django.core.asgi import get_asgi_application  # noqa: E402  (after settings)
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from examples.pages import home_page, profile_page  # noqa: E402
from thunderid_mw.integrations.django import get_auth, login_required  # noqa: E402

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(home_page(get_auth(request)))


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return HttpResponse(profile_page(get_auth(request)))


@login_required
async def api_me(request: HttpRequest) -> JsonResponse:
    async with httpx.AsyncClient(auth=get_auth(request).auth()) as api:
        answer = await api.get(f"{PROFILE_API_URL}/users/me")
    answer.raise_for_status()
    return JsonResponse(answer.json())


urlpatterns = [path("", home), path("profile", profile), path("api/me", api_me)]

application = get_wsgi_application()
asgi_application = get_asgi_application()
