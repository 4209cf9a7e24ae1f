"""The return from the provider's sign-out in both adapters, mounted or not: only a request
at after_sign_out_url's path with a ``state`` and the sign-out state cookie is checked
(303 on to after_sign_out_url, cookie cleared); anything else is the app's own page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.servers import TEST_SECRET
from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDConfig, ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Message, Receive, Scope, Send

ORIGIN = "http://127.0.0.1:8000"
COOKIE = "__thunderid__session.so=abc"


def config(mount: str) -> ThunderIDConfig:
    return ThunderIDConfig(
        base_url="http://127.0.0.1:9/unreachable",  # never asked on this path
        client_id="app",
        client_secret="app-secret",
        after_sign_in_url=f"{ORIGIN}{mount}/callback",
        after_sign_out_url=f"{ORIGIN}{mount}/bye",
        secret=TEST_SECRET,
        store="memory://",
    )


def call_wsgi(mount: str, path: str, query: str, cookie: str | None) -> tuple[str, dict[str, str]]:
    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the app"]

    app = ThunderIDWSGIMiddleware(inner, config(mount))
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": mount,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1:8000",
        **({"HTTP_COOKIE": cookie} if cookie else {}),
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    b"".join(app(environ, start_response))
    return seen["status"][:3], seen["headers"]


async def call_asgi(
    mount: str, path: str, query: str, cookie: str | None
) -> tuple[str, dict[str, str]]:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"the app"})

    app = ThunderIDASGIMiddleware(inner, config(mount))
    headers = [(b"host", b"127.0.0.1:8000")] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {
        "type": "http",
        "method": "GET",
        "path": mount + path,  # ASGI servers include the mount point in path
        "root_path": mount,
        "query_string": query.encode(),
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
    }
    seen: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = str(message["status"])
            seen["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    await app(scope, receive, send)
    return seen["status"], seen["headers"]


CASES = [
    ("/bye", "state=abc", COOKIE, True),
    ("/bye", "state=forged", COOKIE, True),  # logged, and on to the same place
    ("/bye", "", COOKIE, False),  # no state: the provider did not echo one
    ("/bye", "state=abc", None, False),  # no cookie: not this browser's sign-out
    ("/other", "state=abc", COOKIE, False),
]


@pytest.mark.parametrize("mount", ["", "/app"])
@pytest.mark.parametrize(("path", "query", "cookie", "checked"), CASES)
async def test_only_a_stated_return_with_the_cookie_is_checked(
    mount: str, path: str, query: str, cookie: str | None, checked: bool
) -> None:
    for status, headers in (
        call_wsgi(mount, path, query, cookie),
        await call_asgi(mount, path, query, cookie),
    ):
        if checked:
            assert status == "303"
            location = headers.get("Location") or headers.get("location")
            assert location == f"{ORIGIN}{mount}/bye"
            cleared = headers.get("Set-Cookie") or headers.get("set-cookie") or ""
            assert cleared.startswith("__thunderid__session.so=;") and "Max-Age=0" in cleared
        else:
            assert status == "200"
