"""Litestar with ``ThunderIDPlugin`` under uvicorn: the middleware's routes answer (not 404,
as with ``DefineMiddleware`` alone), the context is injected, guards answer a signed-out
request as the middleware does and a signed-in one without the permission with 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integrations.contract import BROWSER, check_signed_in, check_signed_out, sign_out
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port


def test_litestar_plugin(idp: IdP, serve: Callable[..., Server], tmp_path: Path) -> None:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3")
    server = serve("uvicorn", "tests.apps.litestar_app:app", env, port=port)

    check_signed_out(server, "public signed_in={}")
    alice = check_signed_in(server, idp, "public signed_in={}")  # via /sign-in, /callback
    assert alice.get("/admin", headers=BROWSER).headers["content-type"].startswith("text/html")
    sign_out(alice)
