"""`make demo` runs examples/run_demo.py; its --check mode signs in and out once through
the real processes it starts (test IdP, protected API, gunicorn or uvicorn), so the demo
cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.servers import REPO_ROOT


@pytest.mark.parametrize("flags", [[], ["--asgi"]], ids=["flask-gunicorn", "fastapi-uvicorn"])
def test_demo_check_passes(flags: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "examples/run_demo.py", "--check", "--port", "0", *flags],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "demo check passed" in result.stdout, output
    assert "alice / alice-password" in result.stdout  # the test user is printed
    assert "http://127.0.0.1:" in result.stdout
