"""Falcon under gunicorn (WSGI) and uvicorn (ASGI): hooks answer a signed-out request as
the middleware does and a signed-in one without the permission with 403; a responder's
``AuthRefused`` is sent by the error handler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integrations.contract import API, check_signed_in, check_signed_out
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port


@pytest.mark.parametrize(
    ("kind", "app"),
    [
        ("gunicorn", "tests.apps.falcon_views:wsgi_app"),
        ("uvicorn", "tests.apps.falcon_views:asgi_app"),
    ],
    ids=["wsgi", "asgi"],
)
def test_falcon_hooks(
    idp: IdP, serve: Callable[..., Server], tmp_path: Path, kind: str, app: str
) -> None:
    port = free_port()
    server = serve(kind, app, app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3"), port=port)

    check_signed_out(server, "public signed_in={}")
    alice = check_signed_in(server, idp, "public signed_in={}")
    raised = alice.get("/raises", headers=API)
    assert raised.status_code == 403 and "role (owner)" in raised.json()["message"]
