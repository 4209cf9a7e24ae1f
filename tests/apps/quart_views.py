"""Quart with the helpers under uvicorn: ``/public``, ``/profile`` (``login_required``),
``/named`` and ``/admin`` (``require``)."""

from __future__ import annotations

from typing import Any

from quart import Quart

from tests.apps.common import config_from_env
from thunderid_mw import ThunderIDASGIMiddleware
from thunderid_mw.integrations.quart import current_auth, login_required, require

app = Quart(__name__)


@app.get("/public")
async def public() -> str:
    return f"public signed_in={current_auth().is_signed_in}"


@app.get("/profile")
@login_required
async def profile() -> dict[str, Any]:
    return dict(current_auth().user)


@app.get("/named")
@require(claims={"name": "Alice Liddell"})
async def named() -> str:
    return "named"


@app.get("/admin")
@require(roles="admin")
async def admin() -> str:
    return "admin"


# Quart types asgi_app with its own ASGI TypedDicts (HTTPScope, ...), which a
# MutableMapping[str, Any] scope cannot match; the two interoperate at run time.
app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, config_from_env())  # type: ignore[method-assign, arg-type, assignment]
