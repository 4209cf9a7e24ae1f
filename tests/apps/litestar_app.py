"""Litestar with ``ThunderIDPlugin`` (served by uvicorn in tests): ``/public`` for everyone
(the context by dependency injection), ``/profile`` behind ``login_required``, ``/named``
and ``/admin`` behind ``requires``. No protected_paths cover these: the guards decide."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get

from tests.apps.common import config_from_env
from thunderid_mw.integrations.litestar import (
    CurrentAuth,
    ThunderIDPlugin,
    login_required,
    requires,
)


@get("/public")
async def public(auth: CurrentAuth) -> str:
    return f"public signed_in={auth.is_signed_in}"


@get("/profile", guards=[login_required])
async def profile(auth: CurrentAuth) -> dict[str, Any]:
    return dict(auth.user)


@get("/named", guards=[requires(claims={"name": "Alice Liddell"})])
def named(auth: CurrentAuth) -> str:
    return "named"


@get("/admin", guards=[requires(roles="admin")])
async def admin() -> str:
    return "admin"


app = Litestar([public, profile, named, admin], plugins=[ThunderIDPlugin(config_from_env())])
