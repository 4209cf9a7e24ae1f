"""Django, WSGI (``wsgi_app``) and ASGI (``asgi_app``)."""

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="django-test-only-secret-key-0123456789",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from tests.apps.common import config_from_env  # noqa: E402
from tests.apps.frameworks import PROTECTED  # noqa: E402
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDWSGIMiddleware  # noqa: E402


def public(request: HttpRequest) -> HttpResponse:
    return HttpResponse("public")


def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PROTECTED)


urlpatterns = [path("public", public), path("private", private), path("api/data", private)]

wsgi_app = ThunderIDWSGIMiddleware(get_wsgi_application(), config_from_env())
asgi_app = ThunderIDASGIMiddleware(get_asgi_application(), config_from_env())
