"""Bottle (WSGI)."""

import bottle

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw import ThunderIDWSGIMiddleware

bare = bottle.Bottle()


@bare.get("/public")
def public() -> str:
    return "public"


@bare.get("/private")
@bare.get("/api/data")
def private() -> str:
    return PROTECTED


app = ThunderIDWSGIMiddleware(bare, config_from_env())
