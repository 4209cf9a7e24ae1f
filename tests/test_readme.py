"""The README's Quick start, executed as written: its shell block runs in bash (only the
provider's address and the app's credentials are swapped for the test IdP's — the HTTPS
one, with a self-signed certificate like ThunderID's, so the ``openssl`` line really saves
the certificate the app then trusts), its Flask and FastAPI snippets are saved as
``app.py``, each is started with the README's own command (``gunicorn --workers 4 app:app``,
``uvicorn app:app``) in that environment, and a user signs in on the URL the server
prints: ``http://127.0.0.1:8000``, as registered in the README's redirect URI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.docs import MODULES, ROOT
from tests.support.idp import IdP

README = (ROOT / "README.md").read_text()
QUICK_START = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
SHELL = re.search(r"```sh\n(.*?)```", QUICK_START, re.S)
SERVE = {
    "readme_flask.py": re.search(r"served by `(gunicorn [^`]+)`", QUICK_START),
    "readme_fastapi.py": re.search(r"served by `(uvicorn [^`]+)`", QUICK_START),
}
APP_URL = "http://127.0.0.1:8000"  # what the README registers and tells the reader to open
START_WAIT = 60.0
PATH = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # this virtualenv's commands first


def quick_start_environment(idp: IdP, workdir: Path) -> dict[str, str]:
    """Run the README's shell block, as written but for the provider and the app's
    credentials, and return the environment it leaves."""
    assert SHELL, "the Quick start has no ```sh block"
    provider = idp.issuer.removeprefix("https://")
    script = (
        SHELL.group(1)
        .replace("https://localhost:8090", idp.issuer)
        .replace("localhost:8090", provider)
        .replace("<id>", idp.conf_client_id)
        .replace("<secret>", idp.conf_client_secret)
    )
    lines = [
        line
        for line in script.splitlines()
        if not line.startswith("pip install")  # the package is installed already
    ]
    assert len(lines) < len(script.splitlines()), "the README no longer says pip install"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join([*lines, "env -0"])],
        cwd=workdir,
        capture_output=True,
        timeout=60,
        env={"PATH": PATH, "HOME": str(workdir)},
    )
    assert done.returncode == 0, done.stderr.decode()
    env = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    return {name: value for name, value in env.items() if name.startswith("THUNDERID_")}


def outside_env() -> dict[str, str]:
    """This process's environment without any THUNDERID_* (the README's alone count)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("THUNDERID_")}


@pytest.fixture
def serve_readme(idp_tls: IdP, tmp_path: Path) -> Iterator[object]:
    workdir = tmp_path
    processes: list[subprocess.Popen[bytes]] = []

    def start(snippet: str) -> str:
        env = quick_start_environment(idp_tls, workdir)
        assert Path(env["THUNDERID_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE")
        (workdir / "app.py").write_text(MODULES[snippet][1])
        command = SERVE[snippet]
        assert command, f"the Quick start names no server for {snippet}"
        log = workdir / f"{snippet}.log"
        process = subprocess.Popen(
            command.group(1).split(),
            cwd=workdir,
            env={
                **os.environ,
                **env,
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            },
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        deadline = time.monotonic() + START_WAIT
        while APP_URL not in log.read_text(errors="replace"):  # the URL the server prints
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        while True:  # printed before it accepts: wait for the first answer
            try:
                httpx.get(APP_URL + "/", timeout=2)
                return log.read_text()
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("snippet", "signed_in"),
    [
        ("readme_flask.py", "Hello, Alice Liddell"),
        ("readme_fastapi.py", '"signed_in":true'),
    ],
)
def test_the_quick_start_runs_as_written(
    serve_readme: object, idp_tls: IdP, snippet: str, signed_in: str
) -> None:
    serve_readme(snippet)  # type: ignore[operator]
    with httpx.Client(base_url=APP_URL, timeout=30) as browser:
        home = browser.get("/")
        assert home.status_code == 200 and signed_in not in home.text
        started = browser.get("/sign-in", params={"return_to": "/"})
        assert started.status_code == 302, started.text
        assert started.headers["location"].startswith(idp_tls.issuer)
        with httpx.Client(verify=idp_tls.verify, timeout=30) as at_provider:
            callback = idp_tls.login(at_provider, started.headers["location"])
        assert callback.startswith(APP_URL + "/callback?")
        assert browser.get(callback[len(APP_URL) :]).status_code == 302
        assert signed_in in browser.get("/").text
        assert (
            browser.get("/profile", headers={"Accept": "application/json"}).json()["sub"]
            == "user-alice"
        )
