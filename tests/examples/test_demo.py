"""`make demo` runs examples/run_demo.py; its --check mode signs in and out once through
the real processes it starts (test IdP, protected API, gunicorn or uvicorn), so the demo
cannot rot unnoticed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.idp import IdP
from tests.support.servers import REPO_ROOT, free_port, sign_in, start_server


@pytest.mark.parametrize(
    "flags",
    [[], ["--asgi"], ["--profile", "thunderid"]],
    ids=["flask-gunicorn", "fastapi-uvicorn", "thunderid-profile"],
)
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


def test_provider_only_runs_the_provider_for_your_own_app(tmp_path: Path) -> None:
    """docs/running-the-test-provider.md: the printed settings, pasted into another app's
    environment, sign a user in and out of it."""
    port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "examples/run_demo.py",
            "--provider-only",
            "--app-url",
            f"http://127.0.0.1:{port}",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        printed: list[str] = []
        for line in demo.stdout:
            printed.append(line)
            if "Press Ctrl-C" in line:
                break
        exports = dict(
            line.removeprefix("export ").strip().split("=", 1)
            for line in printed
            if line.startswith("export ")
        )
        assert exports["THUNDERID_AFTER_SIGN_IN_URL"] == f"http://127.0.0.1:{port}/callback"
        server = start_server(
            "gunicorn", "examples.falcon_app:application", exports, port=port, log_dir=tmp_path
        )
        try:
            provider = IdP(
                issuer=exports["THUNDERID_BASE_URL"], process=demo, log_path=tmp_path / "idp.log"
            )
            client = sign_in(server.url, provider, "bob", return_to="/profile")
            try:
                profile = client.get("/profile")
                assert profile.status_code == 200 and "Bob Builder" in profile.text
                assert client.get("/api/me").json()["sub"] == "user-bob"  # the demo's API
            finally:
                client.close()
        finally:
            server.stop()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
