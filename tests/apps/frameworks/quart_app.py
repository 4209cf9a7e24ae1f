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


# Quart types asgi_app with its own ASGI TypedDicts (HTTPScope, ...), which a
# MutableMapping[str, Any] scope cannot match; the two interoperate at run time.
app.asgi_app = ThunderIDASGIMiddleware(app.asgi_app, config_from_env())  # type: ignore[method-assign, arg-type, assignment]
