"""Pyramid (WSGI) with the package's ``includeme``, wrapped by the WSGI middleware."""

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw import ThunderIDWSGIMiddleware


def public(request: Request) -> Response:
    return Response("public", content_type="text/plain")


def private(request: Request) -> Response:
    return Response(PROTECTED, content_type="text/plain")


with Configurator() as config:
    config.include("thunderid_mw.integrations.pyramid")
    config.add_route("public", "/public")
    config.add_route("private", "/private")
    config.add_route("data", "/api/data")
    config.add_view(public, route_name="public")
    config.add_view(private, route_name="private")
    config.add_view(private, route_name="data")

app = ThunderIDWSGIMiddleware(config.make_wsgi_app(), config_from_env())
