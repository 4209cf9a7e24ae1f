"""Bottle with the helpers under gunicorn: ``/public`` (the plugin's ``auth``),
``/profile`` (``login_required``), ``/named`` and ``/admin`` (``require``)."""

from __future__ import annotations

from typing import Any

import bottle

from tests.apps.common import config_from_env
from thunderid_mw import AuthContext, ThunderIDWSGIMiddleware
from thunderid_mw.integrations.bottle import ThunderIDPlugin, login_required, require

bare = bottle.Bottle()
bare.install(ThunderIDPlugin())


@bare.get("/public")
def public(auth: AuthContext) -> str:
    return f"public signed_in={auth.is_signed_in}"


@bare.get("/profile")
@login_required
def profile(auth: AuthContext) -> dict[str, Any]:
    return dict(auth.user)


@bare.get("/named")
@require(claims={"name": "Alice Liddell"})
def named() -> str:
    return "named"


@bare.get("/admin")
@require(roles="admin")
def admin() -> str:
    return "admin"


app = ThunderIDWSGIMiddleware(bare, config_from_env())
