"""A one-file Django project behind ThunderIDWSGIMiddleware (``application``, served by
gunicorn in tests) or ThunderIDASGIMiddleware (``asgi_application``, uvicorn): ``/public``
for everyone, ``/profile`` (sync) and ``/async-profile`` behind ``@login_required``,
``/whoami`` reading the context (through the ``MIDDLEWARE`` class) without requiring it,
``/staff`` and ``/admin`` behind ``@require``."""

from __future__ import annotations

import os

import httpx
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="django-test-only-secret-key-0123456789",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=["thunderid_mw.integrations.django.AuthContextMiddleware"],
    INSTALLED_APPS=[],
)

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from tests.apps.common import config_from_env  # noqa: E402
from tests.apps.django_views import async_profile, profile  # noqa: E402
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDWSGIMiddleware  # noqa: E402
from thunderid_mw.integrations.django import get_auth, login_required, require  # noqa: E402


def public(request: HttpRequest) -> HttpResponse:
    ctx = get_auth(request)
    return HttpResponse(f"public signed_in={ctx.is_signed_in} ended={ctx.ended_reason}")


def whoami(request: HttpRequest) -> JsonResponse:
    ctx = request.thunderid  # set by AuthContextMiddleware
    return JsonResponse({"signed_in": ctx.is_signed_in, "sub": ctx.user.get("sub")})


PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:1").rstrip("/")


@login_required
def api_me_sync(request: HttpRequest) -> JsonResponse:
    # A sync view: under ASGI it runs in a worker thread, and ctx.auth() fetches the token
    # on the server's event loop.
    with httpx.Client(auth=get_auth(request).auth()) as api:
        return JsonResponse(api.get(f"{PROFILE_API_URL}/users/me").json())


@login_required
async def api_me_async(request: HttpRequest) -> JsonResponse:
    async with httpx.AsyncClient(auth=get_auth(request).auth()) as api:
        return JsonResponse((await api.get(f"{PROFILE_API_URL}/users/me")).json())


@require(scopes="openid", claims={"name": "Alice Liddell"})
async def staff(request: HttpRequest) -> HttpResponse:
    return HttpResponse("staff")


@require(roles="admin")
def admin(request: HttpRequest) -> HttpResponse:
    return HttpResponse("admin")


urlpatterns = [
    path("public", public),
    path("profile", profile),
    path("async-profile", async_profile),
    path("whoami", whoami),
    path("staff", staff),
    path("admin", admin),
    path("api-me-sync", api_me_sync),
    path("api-me-async", api_me_async),
]

# /profile is protected by the decorator only: protected_paths (from the test config)
# cover /private and /api, not this.
application = ThunderIDWSGIMiddleware(get_wsgi_application(), config_from_env())
asgi_application = ThunderIDASGIMiddleware(get_asgi_application(), config_from_env())
