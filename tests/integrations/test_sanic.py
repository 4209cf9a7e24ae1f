"""Sanic on its own server with the ``ThunderID`` extension: the middleware's routes and
``protected_paths`` answer as under ASGI, the decorators answer signed-out requests with
redirect / 401 and signed-in ones without the permission with 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.integrations.contract import BROWSER, check_signed_in, check_signed_out, sign_out
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port


def test_sanic_extension(idp: IdP, serve: Callable[..., Server], tmp_path: Path) -> None:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3")
    server = serve("sanic", "tests.apps.sanic_app:app", env, port=port)

    check_signed_out(server, "public signed_in={}", protected="/private")  # protected_paths
    with httpx.Client(base_url=server.url) as anonymous:
        profile = anonymous.get("/profile", headers=BROWSER)  # the decorator
        assert profile.headers["location"] == "/sign-in?return_to=%2Fprofile"

    alice = check_signed_in(server, idp, "public signed_in={}")
    assert alice.get("/private").text == "private sub=user-alice"
    sign_out(alice)
