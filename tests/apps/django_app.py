"""A one-file Django project behind ThunderIDWSGIMiddleware (served by gunicorn in tests):
``/public`` for everyone, ``/profile`` behind ``@login_required``, ``/whoami`` reading the
context without requiring it."""

from __future__ import annotations

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="django-test-only-secret-key-0123456789",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from tests.apps.common import config_from_env  # noqa: E402
from thunderid_mw import ThunderIDWSGIMiddleware  # noqa: E402
from thunderid_mw.integrations.django import get_auth, login_required  # noqa: E402


def public(request: HttpRequest) -> HttpResponse:
    ctx = get_auth(request)
    return HttpResponse(f"public signed_in={ctx.is_signed_in} ended={ctx.ended_reason}")


@login_required
def profile(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dict(get_auth(request).user))


def whoami(request: HttpRequest) -> JsonResponse:
    ctx = get_auth(request)
    return JsonResponse({"signed_in": ctx.is_signed_in, "sub": ctx.user.get("sub")})


urlpatterns = [path("public", public), path("profile", profile), path("whoami", whoami)]

# /profile is protected by the decorator only: protected_paths (from the test config)
# cover /private and /api, not this.
application = ThunderIDWSGIMiddleware(get_wsgi_application(), config_from_env())
