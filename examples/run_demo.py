"""Run an example app behind the middleware against a local OpenID provider.

    make demo                                   # = .venv/bin/python examples/run_demo.py
    .venv/bin/python examples/run_demo.py --asgi          # the FastAPI example instead
    .venv/bin/python examples/run_demo.py --check         # one scripted sign-in/out, exit 0/1
    .venv/bin/python examples/run_demo.py --provider-only # the provider (and API) for YOUR app
    make demo PROFILE=thunderid                 # the provider answers like ThunderID (HTTPS)

It starts three processes, all on 127.0.0.1:
  1. the test identity provider (tests/idp/server.js, the certified `oidc-provider`
     package standing in for ThunderID) on a free port; with --profile thunderid its
     ThunderID profile (tests/idp/thunderid.js) over HTTPS with a self-signed certificate;
  2. a protected API (tests/support/protected_api.py) that checks access tokens by
     introspection at that provider;
  3. examples/flask_app.py under gunicorn with 2 workers (or, with --asgi,
     examples/fastapi_app.py under uvicorn) on port 5000 (another one if 5000 is taken),
then prints the app's URL and the test users, and runs until Ctrl-C, which stops them all.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
IDP_DIR = REPO_ROOT / "tests" / "idp"
USERS = {"alice": "alice-password", "bob": "bob-password"}
START_TIMEOUT = 30.0
UVICORN = "uvicorn {app} --host 127.0.0.1 --port {port} --log-level warning"
GUNICORN = (
    "gunicorn {app} --bind 127.0.0.1:{port} --workers 2 --threads 4 --worker-class gthread "
    "--log-level warning"
)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class DemoError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Demo:
    def __init__(self, workdir: Path, profile: str = "default"):
        self.workdir = workdir
        self.profile = profile
        self.children: list[Child] = []
        # ThunderID serves HTTPS with a self-signed certificate: so does its profile.
        self.ca_bundle: str | None = None

    def spawn(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> Child:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                cmd,
                cwd=cwd,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop the children
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def wait_until(self, child: Child, ready: Callable[[], object]) -> object:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise DemoError(f"{child.name} exited at start:\n{child.tail()}")
            result = ready()
            if result:
                return result
            time.sleep(0.1)
        raise DemoError(f"{child.name} did not start within {START_TIMEOUT:.0f} s:\n{child.tail()}")

    # The three processes ------------------------------------------------------------------

    def start_idp(self, port: int = 0) -> str:
        node = shutil.which("node")
        if node is None or not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
            raise DemoError("the test IdP is not installed: run `make setup` first")
        env = {"PORT": str(port), "IDP_PROFILE": self.profile}
        if self.profile == "thunderid":
            sys.path.insert(0, str(REPO_ROOT))
            from tests.support.idp import make_self_signed_cert

            cert, key = make_self_signed_cert(self.workdir)
            env.update(TLS_CERT=str(cert), TLS_KEY=str(key))
            self.ca_bundle = str(cert)
        child = self.spawn("idp", [node, str(IDP_DIR / "server.js")], env, IDP_DIR)

        def issuer() -> str | None:
            match = re.search(r"^READY (\S+)$", child.log.read_text(errors="replace"), re.M)
            return match.group(1) if match else None

        return str(self.wait_until(child, issuer))

    def start_api(self, issuer: str) -> str:
        port = free_port()
        server = UVICORN.format(app="tests.support.protected_api:app", port=port)
        env = {"PROTECTED_API_ISSUER": issuer, **self._ca("PROTECTED_API_CA_BUNDLE")}
        child = self.spawn("protected-api", [sys.executable, "-m", *server.split()], env, REPO_ROOT)
        url = f"http://127.0.0.1:{port}"
        self.wait_until(child, lambda: _answers(url + "/health"))
        return url

    def start_app(self, issuer: str, api_url: str, port: int, asgi: bool) -> str:
        url = f"http://127.0.0.1:{port}"
        env = {
            "THUNDERID_BASE_URL": issuer,
            "THUNDERID_CLIENT_ID": "conf-client",
            "THUNDERID_CLIENT_SECRET": "conf-secret",
            "THUNDERID_AFTER_SIGN_IN_URL": url + "/callback",
            "THUNDERID_AFTER_SIGN_OUT_URL": url + "/",
            "THUNDERID_SECRET": secrets.token_urlsafe(32),
            "THUNDERID_STORE": f"sqlite:///{self.workdir / 'sessions.sqlite3'}",
            "PROFILE_API_URL": api_url,
            **self._ca("THUNDERID_CA_BUNDLE"),
        }
        if asgi:
            server = UVICORN.format(app="examples.fastapi_app:app", port=port)
        else:
            server = GUNICORN.format(app="examples.flask_app:app", port=port)
        cmd = [sys.executable, "-m", *server.split()]
        child = self.spawn("app", cmd, env, REPO_ROOT)
        self.wait_until(child, lambda: _answers(url + "/"))
        return url

    def _ca(self, variable: str) -> dict[str, str]:
        return {variable: self.ca_bundle} if self.ca_bundle else {}

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait(timeout=5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


# -- --check: one scripted sign-in and sign-out ------------------------------------------------


def check(
    app_url: str,
    issuer: str,
    idp_process: subprocess.Popen[bytes],
    log: Path,
    ca_bundle: str | None = None,
) -> None:
    """Sign in as alice through the provider's login form, load the pages that call the
    API, sign out with the page's button; raise DemoError on anything unexpected."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.support.idp import IdP  # drives the provider's HTML forms like a browser

    idp = IdP(issuer=issuer, process=idp_process, log_path=log, ca_path=ca_bundle)
    browser = httpx.Client(timeout=15.0, verify=idp.verify)
    app = httpx.Client(base_url=app_url, timeout=15.0)
    html = {"Accept": "text/html"}

    def expect(condition: bool, what: str) -> None:
        if not condition:
            raise DemoError(f"check failed: {what}")
        print(f"  ok  {what}")

    with browser, app:
        expect('id="sign-in"' in app.get("/", headers=html).text, "public page, signed out")
        start = app.get("/sign-in", params={"return_to": "/profile"})
        expect(start.status_code == 302, "sign-in redirects to the provider")
        callback = idp.login(browser, start.headers["location"], "alice")
        done = app.get(callback[len(app_url) :])
        expect(done.headers.get("location") == "/profile", "callback returns to /profile")
        profile = app.get("/profile", headers=html)
        expect(profile.status_code == 200 and "Alice Liddell" in profile.text, "profile page")
        expect("conf-client" in profile.text, "profile from the protected API")
        dashboard = app.get("/api/dashboard").json()
        expect(len(dashboard["organizations"]) == 2, "two API calls in parallel")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', profile.text)
        expect(csrf is not None, "sign-out button")
        assert csrf is not None
        before = httpx.get(issuer + "/__test__/counts", verify=idp.verify).json()["revocations"]
        out = app.post("/sign-out", data={"csrf_token": csrf.group(1)})
        expect(out.status_code == 303, "sign-out redirects to the provider")
        after = httpx.get(issuer + "/__test__/counts", verify=idp.verify).json()["revocations"]
        expect(after > before, "sign-out revoked the tokens")
        final = idp.logout(browser, out.headers["location"])
        expect(final.startswith(app_url + "/?state="), "the provider sends the user back")
        back = app.get(final[len(app_url) :])
        expect(
            back.status_code == 303 and back.headers["location"] == app_url + "/",
            "the sign-out state checked",
        )
        expect('id="sign-in"' in app.get("/", headers=html).text, "signed out again")


def print_settings(issuer: str, api_url: str, app_url: str, ca_bundle: str | None) -> None:
    """The settings of an app at ``app_url`` signing in with the provider, as shell lines
    (the provider accepts any loopback redirect URI for its test clients)."""
    settings = {
        "THUNDERID_BASE_URL": issuer,
        "THUNDERID_CLIENT_ID": "conf-client",
        "THUNDERID_CLIENT_SECRET": "conf-secret",
        "THUNDERID_AFTER_SIGN_IN_URL": app_url + "/callback",
        "THUNDERID_AFTER_SIGN_OUT_URL": app_url + "/",
        "THUNDERID_SECRET": secrets.token_urlsafe(32),
        "PROFILE_API_URL": api_url,
        **({"THUNDERID_CA_BUNDLE": ca_bundle} if ca_bundle else {}),
    }
    print("\n  For your app (paste into its shell):\n")
    for name, value in settings.items():
        print(f"export {name}={value}")
    print(flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asgi", action="store_true", help="run the FastAPI example (uvicorn)")
    parser.add_argument(
        "--port", type=int, default=None, help="the app's port (default 5000; 0: any free one)"
    )
    parser.add_argument("--check", action="store_true", help="sign in and out once, then exit")
    parser.add_argument(
        "--provider-only",
        action="store_true",
        help="start only the provider and the protected API, for your own app on --app-url; "
        "print the THUNDERID_* settings it needs",
    )
    parser.add_argument(
        "--app-url",
        default="http://127.0.0.1:8000",
        help="with --provider-only: your app's address (default http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--profile",
        choices=["default", "thunderid"],
        default="default",
        help="thunderid: the provider answers like ThunderID's server, over HTTPS "
        "(make demo PROFILE=thunderid)",
    )
    parser.add_argument(
        "--idp-port", type=int, default=0, help="the provider's port (default: any free one)"
    )
    args = parser.parse_args(argv)

    port = args.port
    if port is None:
        port = 5000 if port_is_free(5000) else free_port()
    elif port == 0:
        port = free_port()

    # Ctrl-C and SIGTERM both end the demo cleanly.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="thunderid-demo-"))
    demo = Demo(workdir, args.profile)
    try:
        issuer = demo.start_idp(args.idp_port)
        api_url = demo.start_api(issuer)
        if args.provider_only:
            print_settings(issuer, api_url, args.app_url.rstrip("/"), demo.ca_bundle)
            print(f"  Test users:  alice / {USERS['alice']}    bob / {USERS['bob']}")
            print("  Press Ctrl-C to stop.", flush=True)
            while (dead := demo.dead_child()) is None:
                time.sleep(0.5)
            raise DemoError(f"{dead.name} stopped unexpectedly:\n{dead.tail()}")
        app_url = demo.start_app(issuer, api_url, port, args.asgi)
        kind = "FastAPI (ASGI) under uvicorn" if args.asgi else "Flask (WSGI) under gunicorn"
        print(f"\n  {kind}:  {app_url}/\n")
        print(f"  Test users:  alice / {USERS['alice']}    bob / {USERS['bob']}")
        print(f"  Identity provider:  {issuer}   Protected API:  {api_url}")
        print(f"  Logs:  {workdir}\n", flush=True)
        if args.check:
            idp = demo.children[0]
            check(app_url, issuer, idp.process, idp.log, demo.ca_bundle)
            print("\ndemo check passed")
            return 0
        print("  Press Ctrl-C to stop.", flush=True)
        while (dead := demo.dead_child()) is None:
            time.sleep(0.5)
        raise DemoError(f"{dead.name} stopped unexpectedly:\n{dead.tail()}")
    except KeyboardInterrupt:
        print("\nstopping...")
        return 0
    except Exception as exc:  # report, with the logs, instead of a bare traceback
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        for child in demo.children:
            print(f"--- {child.name} log ---\n{child.tail()}", file=sys.stderr)
        return 1
    finally:
        demo.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
