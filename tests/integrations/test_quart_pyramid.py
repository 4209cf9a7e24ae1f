"""Quart (uvicorn) and Pyramid (gunicorn) with their helpers: a signed-out request is
answered as the middleware does, a signed-in one without the permission with 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integrations.contract import API, check_signed_in, check_signed_out
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port


@pytest.mark.parametrize(
    ("kind", "app", "public"),
    [
        ("uvicorn", "tests.apps.quart_views:app", "public signed_in={}"),
        ("gunicorn", "tests.apps.pyramid_views:app", "public signed_in={0} ctx={0}"),
    ],
    ids=["quart", "pyramid"],
)
def test_helpers(
    idp: IdP, serve: Callable[..., Server], tmp_path: Path, kind: str, app: str, public: str
) -> None:
    port = free_port()
    server = serve(kind, app, app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3"), port=port)

    check_signed_out(server, public)
    alice = check_signed_in(server, idp, public)
    forbidden = alice.get("/admin", headers=API)
    assert forbidden.json() == {
        "error": "forbidden",
        "message": "You are signed in but not allowed to see this page. Missing: role (admin).",
    }
