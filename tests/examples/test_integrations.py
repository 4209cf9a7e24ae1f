"""The framework helpers stay thin and optional: importing thunderid_mw loads no web
framework, and a helper used without the middleware says what is missing."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask

from thunderid_mw.integrations.fastapi import CurrentAuth
from thunderid_mw.integrations.flask import current_auth, login_required


def test_importing_the_package_loads_no_framework() -> None:
    code = (
        "import sys, thunderid_mw, thunderid_mw.integrations; "
        "print(sorted(m for m in ('flask', 'starlette', 'fastapi', 'werkzeug') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_flask_helpers_without_the_middleware_name_it() -> None:
    app = Flask(__name__)

    @app.get("/")
    @login_required
    def home() -> str:
        return "never"

    with app.test_request_context("/"), pytest.raises(RuntimeError, match="wsgi_app"):
        current_auth()
    app.testing = True
    with pytest.raises(RuntimeError, match="ThunderIDWSGIMiddleware"):
        app.test_client().get("/")


async def test_fastapi_helpers_without_the_middleware_name_it() -> None:
    app = FastAPI()

    @app.get("/")
    async def home(ctx: CurrentAuth) -> str:
        return "never"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(RuntimeError, match="ThunderIDASGIMiddleware"):
            await http.get("/")
