"""A TLS-terminating reverse proxy in front of gunicorn and uvicorn (the app sees the
backend's Host; the public one only in X-Forwarded-Host): sign-in, a protected page and
sign-out work over https with the public URL configured and the proxy trusted; the same
forwarded headers sent straight to the app by anyone else change nothing."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.flows import BROWSER
from tests.e2e.stacks import APPS
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, start_server
from tests.support.tls_proxy import PROXY_ADDRESS, TLSProxy, tls_proxy

COOKIE = "__Host-__thunderid__session"


@pytest.fixture(params=["gunicorn", "uvicorn"])
def proxied(
    request: pytest.FixtureRequest, idp: IdP, tmp_path: Path
) -> Iterator[tuple[TLSProxy, Server]]:
    backend = free_port()
    with tls_proxy(backend, tmp_path) as proxy:
        env = app_env(
            idp,
            backend,
            f"sqlite:///{tmp_path}/sessions.sqlite3",
            THUNDERID_AFTER_SIGN_IN_URL=f"{proxy.url}/callback",
            THUNDERID_AFTER_SIGN_OUT_URL=f"{proxy.url}/public",
            THUNDERID_TRUSTED_PROXIES=PROXY_ADDRESS,
        )
        server = start_server(
            request.param, APPS[request.param], env, port=backend, log_dir=tmp_path
        )
        try:
            yield proxy, server
        finally:
            server.stop()


def test_sign_in_and_out_through_the_proxy(proxied: tuple[TLSProxy, Server], idp: IdP) -> None:
    proxy, _ = proxied
    with httpx.Client(
        base_url=proxy.url, verify=ssl.create_default_context(cafile=proxy.cert), timeout=30.0
    ) as client:
        started = client.get("/sign-in", params={"return_to": "/private"}, headers=BROWSER)
        assert started.status_code == 302, started.text
        assert started.headers["location"].startswith(idp.issuer)
        tx_cookie = started.headers["set-cookie"]
        assert tx_cookie.startswith("__Host-") and "Secure" in tx_cookie
        with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
            callback = idp.login(browser, started.headers["location"])
        assert callback.startswith(f"{proxy.url}/callback?")
        finished = client.get(callback[len(proxy.url) :], headers=BROWSER)
        assert finished.status_code == 302, finished.text
        assert client.cookies.get(COOKIE)
        assert client.get("/private").text == "private sub=user-alice"

        form = client.get("/sign-out", headers=BROWSER)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf, form.text
        signed_out = client.post(
            "/sign-out",
            data={"csrf_token": csrf.group(1)},
            headers={**BROWSER, "Origin": proxy.url},
        )
        assert signed_out.status_code == 303, signed_out.text
        assert client.get("/private", headers=BROWSER).status_code == 302


def test_forwarded_headers_from_anyone_else_change_nothing(
    proxied: tuple[TLSProxy, Server],
) -> None:
    """Straight to the app (from 127.0.0.1, not the proxy's address), claiming to be the
    proxy's public host: the app judges the request by its own Host and sends the browser
    to the configured origin first."""
    proxy, server = proxied
    spoofed = {
        **BROWSER,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": f"127.0.0.1:{proxy.port}",
        "Forwarded": f'proto=https;host="127.0.0.1:{proxy.port}"',
    }
    with httpx.Client(base_url=server.url, timeout=30.0) as direct:
        response = direct.get("/sign-in", params={"return_to": "/private"}, headers=spoofed)
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{proxy.url}/sign-in?")
    assert "origin_checked=1" in response.headers["location"]
