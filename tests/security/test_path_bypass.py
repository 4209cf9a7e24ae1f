"""Path tricks cannot reach a protected page: for every framework we name, under its WSGI
or ASGI server, a signed-out request for ``/private`` or ``/api/data`` spelt any way a
router might accept it (``//private``, ``/./private``, ``/%2Fprivate``, ...) never gets
the protected body. The paths are sent byte for byte over a raw socket, as an attacker
would, since HTTP clients normalise them."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.test import create_environ

from tests.apps.frameworks import PROTECTED
from tests.support.idp import IdP
from tests.support.servers import Server, app_env, free_port, start_server

SERVERS = {
    "flask-wsgi": ("gunicorn", "tests.apps.frameworks.flask_app:app"),
    "bottle-wsgi": ("gunicorn", "tests.apps.frameworks.bottle_app:app"),
    "falcon-wsgi": ("gunicorn", "tests.apps.frameworks.falcon_app:wsgi_app"),
    "falcon-asgi": ("uvicorn", "tests.apps.frameworks.falcon_app:asgi_app"),
    "django-wsgi": ("gunicorn", "tests.apps.frameworks.django_app:wsgi_app"),
    "django-asgi": ("uvicorn", "tests.apps.frameworks.django_app:asgi_app"),
    "starlette-asgi": ("uvicorn", "tests.apps.frameworks.starlette_app:starlette_app"),
    "fastapi-asgi": ("uvicorn", "tests.apps.frameworks.starlette_app:fastapi_app"),
    "quart-asgi": ("uvicorn", "tests.apps.frameworks.quart_app:app"),
    "litestar-asgi": ("uvicorn", "tests.apps.frameworks.litestar_app:app"),
    "pyramid-wsgi": ("gunicorn", "tests.apps.frameworks.pyramid_app:app"),
    "sanic-own-server": ("sanic", "tests.apps.frameworks.sanic_app:app"),
}

ATTACKS = [
    "//private",
    "///private",
    "//api/data",
    "//api//data",
    "/%2Fprivate",
    "/%2fprivate",
    "/%252Fprivate",
    "/api%2Fdata",
    "/./private",
    "/%2e/private",
    "/public/../private",
    "/public/%2E%2E/private",
    "/api/./data",
    "/private/",
    "/private/.",
    "/%5Cprivate",
    "/private?x=1",
    "//api/files/../../x",  # Flask: slashes merged, "../../x" given to /api/files/<path:name>
    "///api/files/%2E%2E/%2E%2E/x",
    "//private?" + "&".join(f"f{i}=v" for i in range(100)),
]


def raw_get(
    port: int, target: str, accept: str = "application/json", headers_only: bool = False
) -> tuple[int, bytes]:
    """Send ``GET <target>`` exactly as written; (status, body), or (status, the header
    block) with ``headers_only``."""
    request = (
        f"GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if headers_only:
        return int(head.split(b" ", 2)[1]), head
    if b"transfer-encoding: chunked" in head.lower():
        # uvicorn's httptools protocol (installed with Sanic) chunks even for HTTP/1.0.
        body = _dechunked(body)
    return int(head.split(b" ", 2)[1]), body


def _dechunked(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


@pytest.fixture(scope="module")
def servers(idp: IdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    workdir: Path = tmp_path_factory.mktemp("frameworks")

    def start(name: str) -> Server:
        kind, app = SERVERS[name]
        port = free_port()
        env = app_env(idp, port, "memory://")
        return start_server(kind, app, env, port=port, log_dir=workdir)

    with ThreadPoolExecutor(len(SERVERS)) as pool:
        started = dict(zip(SERVERS, pool.map(start, SERVERS), strict=True))
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.mark.parametrize("name", SERVERS)
def test_the_plain_paths_answer_as_expected(servers: dict[str, Server], name: str) -> None:
    """The control: the app is up, public is public, the protected page exists."""
    port = servers[name].port
    assert raw_get(port, "/public") == (200, b"public")
    status, body = raw_get(port, "/private")
    assert status == 401 and PROTECTED.encode() not in body


@pytest.mark.parametrize("target", ATTACKS)
@pytest.mark.parametrize("name", SERVERS)
def test_no_spelling_of_a_protected_path_reaches_the_page(
    servers: dict[str, Server], name: str, target: str
) -> None:
    status, body = raw_get(servers[name].port, target)
    assert PROTECTED.encode() not in body, (name, target, status)
    assert status != 200, (name, target, status, body[:200])


@pytest.mark.parametrize("target", ["//private", "/%2Fprivate", "/./private"])
@pytest.mark.parametrize("name", ["flask-wsgi", "starlette-asgi"])
def test_a_browser_is_sent_to_sign_in_for_the_tricked_path(
    servers: dict[str, Server], target: str, name: str
) -> None:
    """...and that sign-in starts: its return_to is one /sign-in accepts as this site."""
    port = servers[name].port
    status, head = raw_get(port, target, accept="text/html", headers_only=True)
    assert status == 302
    location = next(v for k, v in _headers(head) if k == "location")
    assert location.startswith("/sign-in?return_to="), location
    status, head = raw_get(port, location, accept="text/html", headers_only=True)
    assert status == 302, (location, head)
    assert next(v for k, v in _headers(head) if k == "location").startswith("http://127.0.0.1:")


@pytest.mark.parametrize("path", ["//private", "//api/files/../../x"])
def test_without_the_normalised_check_flask_would_serve_the_page(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Why the tests above matter: Werkzeug routes ``//private`` to ``/private`` and
    ``//api/files/../../x`` to ``/api/files/<path:name>``."""
    for name, value in app_env(_NoIdP(), free_port(), "memory://").items():
        monkeypatch.setenv(name, value)
    from tests.apps.frameworks.flask_app import bare

    environ = create_environ("/", "http://127.0.0.1/")
    environ["PATH_INFO"] = path
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None, /
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    body = b"".join(bare.wsgi_app(environ, start_response))
    assert statuses[0].startswith("200") and body == PROTECTED.encode()


def _headers(block: bytes) -> list[tuple[str, str]]:
    lines = block.decode("latin-1").split("\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, _, v in (x.partition(":") for x in lines)]


class _NoIdP:
    """Enough of an IdP for ``app_env``: the bare app never talks to it."""

    issuer = "http://127.0.0.1:9"
    conf_client_id = "client"
    conf_client_secret = "secret"
    ca_path = None
