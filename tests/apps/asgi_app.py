"""A bare ASGI app behind ThunderIDASGIMiddleware (served by uvicorn in tests).

Besides the shared endpoints, every WebSocket path sends ``sub=<sub>`` then echoes each
text message, except ``/ws/push``, which only pushes ticks; ``/private/ws`` is protected.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.apps.common import UPSTREAM_PATH, answer, config_from_env, upstream_answer, upstream_url
from thunderid_mw import ThunderIDASGIMiddleware
from thunderid_mw.asgi import Receive, Scope, Send


async def inner(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    ctx = scope["thunderid"]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": f"sub={ctx.user.get('sub')}"})
        if scope["path"] == "/ws/push":
            await _push_ticks(send)
            return
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})
    # Below the mount point, as frameworks route (ASGI paths include the root path).
    path = scope["path"][len(scope.get("root_path", "")) :] or "/"
    if path == UPSTREAM_PATH and ctx.is_signed_in:
        async with httpx.AsyncClient(auth=ctx.auth(), timeout=10) as api:
            status, content_type, body = upstream_answer(await api.get(upstream_url()))
    else:
        status, content_type, body = answer(path, ctx)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _push_ticks(send: Any) -> None:
    """Server push only (never reads): a tick every 50 ms for at most 30 s, until sending
    fails because the socket was closed."""
    for n in range(600):
        try:
            await send({"type": "websocket.send", "text": f"tick {n}"})
        except OSError:
            return
        await asyncio.sleep(0.05)


app = ThunderIDASGIMiddleware(inner, config_from_env())
