"""Litestar with ``ThunderIDPlugin`` (it wraps the app at the ASGI level, so the
protected paths are checked before Litestar routes)."""

from litestar import Litestar, get

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw.integrations.litestar import ThunderIDPlugin


@get("/public", sync_to_thread=False)
def public() -> str:
    return "public"


@get(["/private", "/api/data"], sync_to_thread=False)
def private() -> str:
    return PROTECTED


app = Litestar([public, private], plugins=[ThunderIDPlugin(config_from_env())])
