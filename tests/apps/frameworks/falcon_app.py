"""Falcon, WSGI (``wsgi_app``) and ASGI (``asgi_app``)."""

from typing import Any

import falcon
import falcon.asgi

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDWSGIMiddleware


class Text:
    def __init__(self, text: str):
        self.text = text

    def on_get(self, req: Any, resp: Any) -> None:
        resp.text = self.text


class AsyncText(Text):
    async def on_get(self, req: Any, resp: Any) -> None:  # type: ignore[override]
        resp.text = self.text


def _routes(app: Any, resource: type[Text]) -> Any:
    app.add_route("/public", resource("public"))
    app.add_route("/private", resource(PROTECTED))
    app.add_route("/api/data", resource(PROTECTED))
    return app


bare_wsgi = _routes(falcon.App(), Text)
wsgi_app = ThunderIDWSGIMiddleware(bare_wsgi, config_from_env())
asgi_app = ThunderIDASGIMiddleware(_routes(falcon.asgi.App(), AsyncText), config_from_env())
