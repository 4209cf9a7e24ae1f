"""Falcon with the helpers, WSGI (``wsgi_app``, gunicorn) and ASGI (``asgi_app``, uvicorn):
``/public``, ``/profile`` (``login_required`` hook), ``/named`` and ``/admin`` (``require``
hooks), ``/raises`` (a responder raising ``AuthRefused``, sent by the error handler)."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from tests.apps.common import config_from_env
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDWSGIMiddleware
from thunderid_mw.integrations import forbidden
from thunderid_mw.integrations.falcon import (
    AuthRefused,
    auth_refused_handler,
    auth_refused_handler_async,
    get_auth,
    login_required,
    login_required_async,
    require,
    require_async,
)


class Public:
    def on_get(self, req: Any, resp: Any) -> None:
        resp.text = f"public signed_in={get_auth(req).is_signed_in}"


class Profile:
    @falcon.before(login_required)
    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = dict(get_auth(req).user)


class Named:
    @falcon.before(require(claims={"name": "Alice Liddell"}))
    def on_get(self, req: Any, resp: Any) -> None:
        resp.text = "named"


class Admin:
    @falcon.before(require(roles="admin"))
    def on_get(self, req: Any, resp: Any) -> None:
        resp.text = "admin"


class Raises:
    def on_get(self, req: Any, resp: Any) -> None:
        raise AuthRefused(forbidden(req.env, ["role (owner)"]))


class AsyncPublic:
    async def on_get(self, req: Any, resp: Any) -> None:
        resp.text = f"public signed_in={get_auth(req).is_signed_in}"


class AsyncProfile:
    @falcon.before(login_required_async)
    async def on_get(self, req: Any, resp: Any) -> None:
        resp.media = dict(get_auth(req).user)


class AsyncNamed:
    @falcon.before(require_async(claims={"name": "Alice Liddell"}))
    async def on_get(self, req: Any, resp: Any) -> None:
        resp.text = "named"


class AsyncAdmin:
    @falcon.before(require_async(roles="admin"))
    async def on_get(self, req: Any, resp: Any) -> None:
        resp.text = "admin"


class AsyncRaises:
    async def on_get(self, req: Any, resp: Any) -> None:
        raise AuthRefused(forbidden(req.scope, ["role (owner)"]))


def _routes(app: Any, *resources: Any) -> Any:
    for path, resource in zip(("/public", "/profile", "/named", "/admin", "/raises"), resources):
        app.add_route(path, resource)
    return app


bare_wsgi = _routes(falcon.App(), Public(), Profile(), Named(), Admin(), Raises())
bare_wsgi.add_error_handler(AuthRefused, auth_refused_handler)
wsgi_app = ThunderIDWSGIMiddleware(bare_wsgi, config_from_env())

bare_asgi = _routes(
    falcon.asgi.App(), AsyncPublic(), AsyncProfile(), AsyncNamed(), AsyncAdmin(), AsyncRaises()
)
bare_asgi.add_error_handler(AuthRefused, auth_refused_handler_async)
asgi_app = ThunderIDASGIMiddleware(bare_asgi, config_from_env())
