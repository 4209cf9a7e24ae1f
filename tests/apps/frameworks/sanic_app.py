"""Sanic on its own server with the ``ThunderID`` extension."""

from sanic import HTTPResponse, Request, Sanic
from sanic.response import text

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw.integrations.sanic import ThunderID

app = Sanic("thunderid_path_bypass")
ThunderID(app, config_from_env())


@app.get("/public")
async def public(request: Request) -> HTTPResponse:
    return text("public")


@app.get("/private")
@app.get("/api/data", name="data")
async def private(request: Request) -> HTTPResponse:
    return text(PROTECTED)
