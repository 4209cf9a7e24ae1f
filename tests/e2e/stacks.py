"""The end-to-end servers: the same test apps under gunicorn (WSGI) and uvicorn (ASGI).

Each adapter gets a set of servers, all with a SQLite store, started together in the
background the first time a test asks for that adapter and kept for the whole package:

    main             the app against the test IdP (gunicorn: 2 workers)
    https_callback   THUNDERID_AFTER_SIGN_IN_URL is https (served over http)
    short_sign_in    THUNDERID_SIGN_IN_TIMEOUT=1
    idp_unreachable  THUNDERID_BASE_URL points at a closed port
    fresh            never signs anybody in before the discovery-failure test
    tls              against the HTTPS IdP, with THUNDERID_CA_BUNDLE
    tls_no_ca        against the HTTPS IdP, without a CA bundle
    wrong_secret     THUNDERID_CLIENT_SECRET is not the client's secret
    wrong_scheme     THUNDERID_BASE_URL says https:// for the plain-http IdP
    wrong_issuer     THUNDERID_BASE_URL names the IdP by another host than its issuer's
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, sign_in, start_server

ADAPTERS = ("gunicorn", "uvicorn")
APPS = {"gunicorn": "tests.apps.wsgi_app:app", "uvicorn": "tests.apps.asgi_app:app"}

VARIANTS = (
    "main",
    "https_callback",
    "short_sign_in",
    "idp_unreachable",
    "fresh",
    "tls",
    "tls_no_ca",
    "wrong_secret",
    "wrong_scheme",
    "wrong_issuer",
)

SERVER_START_WAIT = 90.0


class Stacks:
    """Servers by (adapter, variant), started in parallel per adapter on first use."""

    def __init__(self, idp: IdP, idp_tls: IdP, workdir: Path):
        self.idp = idp
        self.idp_tls = idp_tls
        self.workdir = workdir
        self._pool = ThreadPoolExecutor(max_workers=len(VARIANTS))
        self._servers: dict[str, dict[str, Future[Server]]] = {}
        self._bystanders: dict[str, httpx.Client] = {}

    def get(self, adapter: str, variant: str = "main") -> Server:
        if adapter not in self._servers:
            self._servers[adapter] = {
                v: self._pool.submit(self._start, adapter, v) for v in VARIANTS
            }
        return self._servers[adapter][variant].result(timeout=SERVER_START_WAIT)

    def bystander(self, adapter: str) -> httpx.Client:
        """Bob, signed in once on the adapter's main server: the session that bad input
        aimed at other sessions must never touch."""
        if adapter not in self._bystanders:
            self._bystanders[adapter] = sign_in(self.get(adapter).url, self.idp, "bob")
        return self._bystanders[adapter]

    def _start(self, adapter: str, variant: str) -> Server:
        port = free_port()
        workdir = self.workdir / f"{adapter}-{variant}"
        workdir.mkdir()
        store = f"sqlite:///{workdir}/sessions.sqlite3"
        idp = self.idp_tls if variant.startswith("tls") else self.idp
        env = app_env(idp, port, store)
        if variant == "https_callback":
            env["THUNDERID_AFTER_SIGN_IN_URL"] = f"https://127.0.0.1:{port}/callback"
            env["THUNDERID_AFTER_SIGN_OUT_URL"] = f"https://127.0.0.1:{port}/public"
        elif variant == "short_sign_in":
            env["THUNDERID_SIGN_IN_TIMEOUT"] = "1"
        elif variant == "idp_unreachable":
            env["THUNDERID_BASE_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens
        elif variant == "tls_no_ca":
            env.pop("THUNDERID_CA_BUNDLE")
        elif variant == "wrong_secret":
            env["THUNDERID_CLIENT_SECRET"] = "not-the-client-secret"
        elif variant == "wrong_scheme":
            env["THUNDERID_BASE_URL"] = idp.issuer.replace("http://", "https://", 1)
        elif variant == "wrong_issuer":
            env["THUNDERID_BASE_URL"] = idp.issuer.replace("127.0.0.1", "localhost", 1)
        return start_server(
            adapter,
            APPS[adapter],
            env,
            port=port,
            workers=2 if adapter == "gunicorn" and variant == "main" else 1,
            log_dir=workdir,
        )

    def close(self) -> None:
        for client in self._bystanders.values():
            client.close()
        for futures in self._servers.values():
            for future in futures.values():
                try:
                    server = future.result(timeout=SERVER_START_WAIT)
                except Exception:  # a server that failed to start is reported by its test
                    continue
                server.stop()
        self._pool.shutdown()
