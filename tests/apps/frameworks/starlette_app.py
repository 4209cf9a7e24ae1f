"""Starlette and FastAPI (ASGI)."""

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.apps.common import config_from_env
from tests.apps.frameworks import PROTECTED
from thunderid_mw import ThunderIDASGIMiddleware


async def public(request: Request) -> PlainTextResponse:
    return PlainTextResponse("public")


async def private(request: Request) -> PlainTextResponse:
    return PlainTextResponse(PROTECTED)


starlette_app = ThunderIDASGIMiddleware(
    Starlette(
        routes=[Route("/public", public), Route("/private", private), Route("/api/data", private)]
    ),
    config_from_env(),
)

fastapi = FastAPI()
fastapi.get("/public", response_class=PlainTextResponse)(lambda: "public")
fastapi.get("/private", response_class=PlainTextResponse)(lambda: PROTECTED)
fastapi.get("/api/data", response_class=PlainTextResponse)(lambda: PROTECTED)
fastapi_app = ThunderIDASGIMiddleware(fastapi, config_from_env())
