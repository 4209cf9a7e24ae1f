"""docs/frameworks/any-framework.md: its WSGI example runs as written, behind the real
middleware (in process; signed-out requests need no provider)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.driver import SECRET

DOC = Path(__file__).parents[2] / "docs" / "frameworks" / "any-framework.md"


@pytest.fixture
def application(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "THUNDERID_CLIENT_ID": "app",
        "THUNDERID_AFTER_SIGN_IN_URL": "http://app.test/callback",
        "THUNDERID_SECRET": SECRET,
        "THUNDERID_STORE": "memory://",
    }.items():
        monkeypatch.setenv(name, value)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace["application"]


def test_the_any_framework_example_answers_as_the_middleware(application: Any) -> None:
    transport = httpx.WSGITransport(app=application)
    with httpx.Client(transport=transport, base_url="http://app.test") as http:
        assert http.get("/").text == "Hello, stranger"
        browser = http.get("/edit/1?x=y", headers={"Accept": "text/html"})
        assert browser.status_code == 302
        assert browser.headers["location"] == "/sign-in?return_to=%2Fedit%2F1%3Fx%3Dy"
        api = http.get("/edit/1", headers={"Accept": "application/json"})
        assert api.status_code == 401
        assert api.json()["error"] == "not_signed_in"
        assert api.headers["www-authenticate"].startswith("Bearer")


def test_the_authorization_page_snippets_run(application: Any) -> None:
    page = DOC.with_name("authorization.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", page, re.S):
        namespace: dict[str, Any] = {}
        exec(compile(block, "authorization.md", "exec"), namespace)
    assert namespace["config"].scopes[-1] == "write:documents"
