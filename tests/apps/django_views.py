"""Views shared by the Django test projects (tests/apps/django_app.py, served; and
tests/integrations/test_django_middleware.py, with Django's test clients): the user's
claims behind ``@login_required``, from a sync and an ``async def`` view. Importing this
module needs no configured settings."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from thunderid_mw.integrations.django import get_auth, login_required


@login_required
def profile(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dict(get_auth(request).user))


@login_required
async def async_profile(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dict(get_auth(request).user))
