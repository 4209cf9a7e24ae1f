"""A bare ASGI app behind ThunderIDASGIMiddleware (served by uvicorn in tests).

Besides the shared endpoints, every WebSocket path sends ``sub=<sub>`` then echoes each
text message; ``/private/ws`` is protected.
"""

from __future__ import annotations

from typing import Any

from tests.apps.common import answer, config_from_env
from thunderid_mw import ThunderIDASGIMiddleware


async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
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
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": message.get("text") or ""})
    status, content_type, body = answer(scope["path"], ctx)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = ThunderIDASGIMiddleware(inner, config_from_env())
