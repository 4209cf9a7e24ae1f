"""Pyramid with the security policy and forbidden view under gunicorn: ``/public``,
``/profile`` (permission ``openid``, a granted scope), ``/named`` (a claims requirement),
``/admin`` (a role requirement)."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from tests.apps.common import config_from_env
from thunderid_mw import ThunderIDWSGIMiddleware
from thunderid_mw.integrations import Requirement
from thunderid_mw.integrations.pyramid import get_auth


def public(request: Any) -> str:
    return f"public signed_in={request.identity is not None} ctx={get_auth(request).is_signed_in}"


def profile(request: Any) -> dict[str, Any]:
    return dict(request.identity.user)


def named(request: Any) -> str:
    return "named"


def admin(request: Any) -> str:
    return "admin"


with Configurator() as config:
    config.include("thunderid_mw.integrations.pyramid")
    for name, view, permission, renderer in (
        ("public", public, None, "string"),
        ("profile", profile, "openid", "json"),
        ("named", named, Requirement.of(claims={"name": "Alice Liddell"}), "string"),
        ("admin", admin, Requirement.of(roles="admin"), "string"),
    ):
        config.add_route(name, f"/{name}")
        config.add_view(view, route_name=name, permission=permission, renderer=renderer)
    app = ThunderIDWSGIMiddleware(config.make_wsgi_app(), config_from_env())
