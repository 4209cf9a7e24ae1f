"""Sanic with the ``ThunderID`` extension, on Sanic's own server: ``/public`` for
everyone, ``/profile`` behind ``login_required``, ``/named`` and ``/admin`` behind
``require``, ``/private`` protected by the config's protected_paths."""

from __future__ import annotations

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json, text

from tests.apps.common import config_from_env
from thunderid_mw.integrations.sanic import ThunderID, get_auth, login_required, require

app = Sanic("thunderid_test")
ThunderID(app, config_from_env())


@app.get("/public")
async def public(request: Request) -> HTTPResponse:
    return text(f"public signed_in={get_auth(request).is_signed_in}")


@app.get("/private")
async def private(request: Request) -> HTTPResponse:
    return text(f"private sub={get_auth(request).user.get('sub')}")


@app.get("/profile")
@login_required
async def profile(request: Request) -> HTTPResponse:
    return json(dict(get_auth(request).user))


@app.get("/named")
@require(claims={"name": "Alice Liddell"})
def named(request: Request) -> HTTPResponse:
    return text("named")


@app.get("/admin")
@require(roles="admin")
async def admin(request: Request) -> HTTPResponse:
    return text("admin")
