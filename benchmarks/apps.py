"""The apps being measured: a bare hello-world (WSGI and ASGI), the same behind our
middleware, and the peers (Starlette's ``SessionMiddleware`` and Flask's signed-cookie
session) holding an equivalent token set.

Every wrapped app's inner handler reads the access token from where its auth layer put
it, as a real handler would; the bare apps read nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from thunderid_mw import ThunderIDASGIMiddleware, ThunderIDWSGIMiddleware
from thunderid_mw.asgi import Message, Receive, Scope, Send
from thunderid_mw.stores.base import SessionStore

from .common import BENCH_SECRET, Tokens, bench_config, make_tokens, seed_session

HELLO = b"Hello, world!"
_WSGI_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))]
_ASGI_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(HELLO)).encode())]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ASGIApp = Callable[[dict[str, Any], Any, Any], Any]


# -- WSGI --------------------------------------------------------------------------------


def wsgi_hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", list(_WSGI_HEADERS))
    return [HELLO]


def wsgi_reads_thunderid(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    environ["thunderid"].access_token  # noqa: B018  (what a handler would use)
    start_response("200 OK", list(_WSGI_HEADERS))
    return [HELLO]


def wsgi_thunderid(store: SessionStore | str) -> ThunderIDWSGIMiddleware:
    return ThunderIDWSGIMiddleware(wsgi_reads_thunderid, bench_config(store))


def flask_app(kind: str) -> Any:
    """A Flask app answering every path: ``kind`` "bare" (reads nothing), "session"
    (reads ``session["tokens"]``) or "thunderid" (reads ``environ["thunderid"]``)."""
    from flask import Flask, request, session

    app = Flask(f"bench_{kind}")
    app.config["SECRET_KEY"] = BENCH_SECRET

    if kind == "bare":

        def view(path: str = "") -> bytes:
            return HELLO

    elif kind == "session":

        def view(path: str = "") -> bytes:
            session.get("tokens", {}).get("access_token")
            return HELLO

    elif kind == "thunderid":

        def view(path: str = "") -> bytes:
            request.environ["thunderid"].access_token  # noqa: B018
            return HELLO

    else:
        raise ValueError(kind)
    app.add_url_rule("/", "index", view)
    app.add_url_rule("/<path:path>", "any", view)
    return app


def flask_session_cookie(tokens: Tokens) -> str:
    """The value of Flask's ``session`` cookie holding ``tokens`` (as Flask signs it)."""
    app = flask_app("session")
    serializer = app.session_interface.get_signing_serializer(app)
    value: str = serializer.dumps(tokens.as_session_dict())
    return value


# -- ASGI --------------------------------------------------------------------------------


async def asgi_hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(_ASGI_HEADERS)})
    await send({"type": "http.response.body", "body": HELLO})


async def asgi_reads_thunderid(scope: Scope, receive: Receive, send: Send) -> None:
    scope["thunderid"].access_token  # noqa: B018
    await send({"type": "http.response.start", "status": 200, "headers": list(_ASGI_HEADERS)})
    await send({"type": "http.response.body", "body": HELLO})


async def asgi_reads_session(scope: Scope, receive: Receive, send: Send) -> None:
    scope["session"].get("tokens", {}).get("access_token")
    await send({"type": "http.response.start", "status": 200, "headers": list(_ASGI_HEADERS)})
    await send({"type": "http.response.body", "body": HELLO})


def asgi_thunderid(store: SessionStore | str) -> ThunderIDASGIMiddleware:
    return ThunderIDASGIMiddleware(asgi_reads_thunderid, bench_config(store))


def starlette_session() -> ASGIApp:
    from starlette.middleware.sessions import SessionMiddleware

    return SessionMiddleware(asgi_reads_session, secret_key=BENCH_SECRET)


def starlette_session_cookie(tokens: Tokens) -> str:
    """The value of Starlette's ``session`` cookie holding ``tokens``, as its
    ``SessionMiddleware`` writes it (obtained by letting it write one)."""
    from starlette.middleware.sessions import SessionMiddleware

    async def store_tokens(scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"].update(tokens.as_session_dict())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    found: list[str] = []

    async def send(message: Message) -> None:
        for name, value in message.get("headers", []):
            if name.lower() == b"set-cookie":
                found.append(value.decode().split(";", 1)[0].split("=", 1)[1])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    middleware = SessionMiddleware(store_tokens, secret_key=BENCH_SECRET)
    asyncio.run(middleware(scope, receive, send))
    assert found, "SessionMiddleware wrote no cookie"
    return found[0]


# -- for a server process ------------------------------------------------------------------


APP_KINDS = (
    "wsgi-bare",
    "wsgi-thunderid",
    "wsgi-flask-bare",
    "wsgi-flask-session",
    "asgi-bare",
    "asgi-thunderid",
    "asgi-starlette-session",
)


def build_app(kind: str, store_url: str = "memory://", seed_session_id: str | None = None) -> Any:
    """The app ``kind`` (one of ``APP_KINDS``); for the thunderid kinds, a session for
    ``seed_session_id`` is written into its store first (in this process, so a memory store
    holds it)."""
    if kind == "wsgi-bare":
        return wsgi_hello
    if kind == "asgi-bare":
        return asgi_hello
    if kind == "wsgi-flask-bare":
        return flask_app("bare")
    if kind == "wsgi-flask-session":
        return flask_app("session")
    if kind == "asgi-starlette-session":
        return starlette_session()
    if kind == "wsgi-thunderid":
        app: Any = wsgi_thunderid(store_url)
    elif kind == "asgi-thunderid":
        app = asgi_thunderid(store_url)
    else:
        raise ValueError(f"unknown app kind {kind!r}; one of {', '.join(APP_KINDS)}")
    if seed_session_id:
        seed_session(app.config, app.client._store, seed_session_id, make_tokens())
    return app
