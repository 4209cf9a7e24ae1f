"""Flask (Werkzeug merges repeated slashes when it routes, and hands dot segments to a
``<path:...>`` converter as they are: ``//api/files/../../x`` reaches ``files``)."""

from flask import Flask

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw import ThunderIDWSGIMiddleware

bare = Flask(__name__)


@bare.get("/public")
def public() -> str:
    return "public"


@bare.get("/private")
@bare.get("/api/data")
def private() -> str:
    return PROTECTED


@bare.get("/api/files/<path:name>")
def files(name: str) -> str:
    return PROTECTED


app = ThunderIDWSGIMiddleware(bare.wsgi_app, config_from_env())
