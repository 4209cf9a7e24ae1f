"""Quart (ASGI), wrapped the way its helper module says: ``app.asgi_app = ...``."""

from quart import Quart

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw import ThunderIDASGIMiddleware

app = Quart(__name__)


@app.get("/public")
async def public() -> str:
    return "public"


@app.get("/private")
@app.get("/api/data")
async def private() -> str:
    return PROTECTED


app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, config_from_env())  # type: ignore[method-assign]
