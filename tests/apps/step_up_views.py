"""Step-up test apps, the same views in Flask and Pyramid (WSGI, served by gunicorn) and
FastAPI (ASGI, served by uvicorn):

    /public    anyone
    /profile   any signed-in user: the ID token's sub, acr and auth_time as JSON
    /billing   THUNDERID_PATH_REQUIREMENTS (set by the test) asks for an acr
    /strong    the framework helper asks for acr urn:thunderid:test:mfa
    /recent    the framework helper asks for an authentication at most 300 s old
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse
from flask import Flask, jsonify

from thunderid_mw import (
    AuthContext,
    ThunderIDASGIMiddleware,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
)
from thunderid_mw.integrations import Requirement
from thunderid_mw.integrations import fastapi as fastapi_helpers
from thunderid_mw.integrations import flask as flask_helpers

MFA = "urn:thunderid:test:mfa"
RECENT = 300


def _who(ctx: AuthContext) -> dict[str, Any]:
    return {key: ctx.user.get(key) for key in ("sub", "acr", "auth_time")}


flask = Flask(__name__)
flask.get("/public")(lambda: "public")


@flask.get("/profile")
@flask.get("/billing")
@flask_helpers.login_required
def flask_profile() -> Any:
    return jsonify(_who(flask_helpers.current_auth()))


@flask.get("/strong")
@flask_helpers.require(acr=MFA)
def flask_strong() -> Any:
    return jsonify(_who(flask_helpers.current_auth()))


@flask.get("/recent")
@flask_helpers.require(max_age=RECENT)
def flask_recent() -> Any:
    return jsonify(_who(flask_helpers.current_auth()))


wsgi_app = ThunderIDWSGIMiddleware(flask.wsgi_app, ThunderIDConfig.from_env())

api = FastAPI()
api.add_exception_handler(fastapi_helpers.AuthRefused, fastapi_helpers.auth_refused_handler)
api.get("/public", response_class=PlainTextResponse)(lambda: "public")


@api.get("/profile")
@api.get("/billing")
async def api_profile(auth: fastapi_helpers.RequiredAuth) -> dict[str, Any]:
    return _who(auth)


@api.get("/strong")
async def api_strong(
    auth: Annotated[AuthContext, Depends(fastapi_helpers.requires(acr=MFA))],
) -> dict[str, Any]:
    return _who(auth)


@api.get("/recent")
async def api_recent(
    auth: Annotated[AuthContext, Depends(fastapi_helpers.requires(max_age=RECENT))],
) -> dict[str, Any]:
    return _who(auth)


asgi_app = ThunderIDASGIMiddleware(api, ThunderIDConfig.from_env())


def _pyramid_app() -> Any:
    from pyramid.config import Configurator

    from thunderid_mw.integrations.pyramid import get_auth

    with Configurator() as config:
        config.include("thunderid_mw.integrations.pyramid")
        for name, permission in (
            ("public", None),
            ("profile", "openid"),
            ("billing", "openid"),
            ("strong", Requirement.of(acr=MFA)),
            ("recent", Requirement.of(max_age=RECENT)),
        ):
            config.add_route(name, f"/{name}")
            config.add_view(
                (lambda request: "public")
                if name == "public"
                else (lambda request: _who(get_auth(request))),
                route_name=name,
                permission=permission,
                renderer="string" if name == "public" else "json",
            )
        return config.make_wsgi_app()


pyramid_app = ThunderIDWSGIMiddleware(_pyramid_app(), ThunderIDConfig.from_env())
