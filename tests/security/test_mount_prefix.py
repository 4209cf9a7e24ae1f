"""An app mounted below a path prefix (gunicorn ``SCRIPT_NAME``, uvicorn ``--root-path``
behind a proxy that strips the prefix): ``protected_paths`` are app-relative under both
adapters, and every link and redirect the middleware sends carries the prefix, through a
whole sign-in."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest

from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port

PREFIX = "/app"
HTML = {"Accept": "text/html"}


def _start(serve: Callable[..., Server], idp: IdP, kind: str, tmp: str) -> Server:
    port = free_port()
    env = app_env(idp, port, f"sqlite:///{tmp}/sessions.sqlite3")
    env["THUNDERID_AFTER_SIGN_IN_URL"] = f"http://127.0.0.1:{port}{PREFIX}/callback"
    env["THUNDERID_AFTER_SIGN_OUT_URL"] = f"http://127.0.0.1:{port}{PREFIX}/public"
    if kind == "gunicorn":
        env["SCRIPT_NAME"] = PREFIX  # gunicorn moves it from PATH_INFO to SCRIPT_NAME
        return serve(kind, "tests.apps.wsgi_app:app", env, port=port, ready_path="/app/public")
    return serve(
        kind, "tests.apps.asgi_app:app", env, port=port, extra_args=("--root-path", PREFIX)
    )


class Browser:
    """A browser at ``http://127.0.0.1:port/app/...``. For uvicorn it talks through a
    proxy that strips the prefix (what ``--root-path`` assumes)."""

    def __init__(self, server: Server, strip: bool):
        self.http = httpx.Client(base_url=server.url, timeout=30.0)
        self.strip = strip

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        assert path.startswith(PREFIX + "/"), path
        sent = path[len(PREFIX) :] if self.strip else path
        return self.http.get(sent, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_a_mounted_app_signs_in_and_protects_app_relative_paths(
    serve: Callable[..., Server], idp: IdP, kind: str, tmp_path: object
) -> None:
    server = _start(serve, idp, kind, str(tmp_path))
    browser = Browser(server, strip=kind == "uvicorn")

    api = browser.get(PREFIX + "/private", headers={"Accept": "application/json"})
    assert api.status_code == 401
    first = browser.get(PREFIX + "/private?x=1", headers=HTML)
    assert first.status_code == 302
    assert first.headers["location"] == (
        f"{PREFIX}/sign-in?return_to=" + quote(f"{PREFIX}/private?x=1", safe="")
    )
    to_idp = browser.get(first.headers["location"])
    assert to_idp.status_code == 302, to_idp.text
    with httpx.Client(verify=idp.verify, timeout=30.0) as at_idp:
        callback = idp.login(at_idp, to_idp.headers["location"], "alice")
    assert callback.startswith(f"{server.url}{PREFIX}/callback?"), callback
    back = browser.get(callback[len(server.url) :])
    assert back.status_code == 302, back.text
    assert back.headers["location"] == f"{PREFIX}/private?x=1"

    page = browser.get(PREFIX + "/private")
    assert page.status_code == 200 and page.text == "private sub=user-alice"
    links = browser.get(PREFIX + "/links").json()
    assert links == {
        "sign_in": f"{PREFIX}/sign-in?return_to=/here",
        "sign_out": f"{PREFIX}/sign-out",
    }
    confirm = browser.get(PREFIX + "/sign-out", headers=HTML)
    assert f'action="{PREFIX}/sign-out"' in confirm.text
