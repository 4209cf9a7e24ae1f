"""Bottle under gunicorn: the plugin passes ``auth``; ``login_required`` answers a
signed-out request as the middleware does, ``require`` a signed-in one without the
permission with 403."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integrations.contract import check_signed_in, check_signed_out
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port


def test_bottle_helpers(idp: IdP, serve: Callable[..., Server], tmp_path: Path) -> None:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp_path}/s.sqlite3")
    server = serve("gunicorn", "tests.apps.bottle_views:app", env, port=port)

    check_signed_out(server, "public signed_in={}")
    check_signed_in(server, idp, "public signed_in={}")
