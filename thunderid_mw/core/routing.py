"""Which requests the middleware answers itself, which paths need a session, and whether
a request comes from a browser navigation or from code (fetch/XHR/API client)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from .config import ThunderIDConfig


class Route(Enum):
    SIGN_IN = "sign_in"
    CALLBACK = "callback"
    SIGN_OUT = "sign_out"
    BACKCHANNEL_LOGOUT = "backchannel_logout"


class Router:
    """Route lookup: one dict lookup for our own paths, prefix checks for protection."""

    def __init__(self, config: ThunderIDConfig):
        self.routes: dict[str, Route] = {
            config.sign_in_path: Route.SIGN_IN,
            config.callback_path: Route.CALLBACK,
            config.sign_out_path: Route.SIGN_OUT,
        }
        if config.backchannel_logout_path is not None:
            self.routes[config.backchannel_logout_path] = Route.BACKCHANNEL_LOGOUT
        self._exact = frozenset(p.rstrip("/") or "/" for p in config.protected_paths)
        self._prefixes = tuple((p.rstrip("/") + "/") for p in config.protected_paths)

    def is_protected(self, path: str) -> bool:
        """``/admin`` protects ``/admin`` and everything below it, not ``/administrator``."""
        # "/" becomes the prefix "/", which protects every path.
        return path in self._exact or path.startswith(self._prefixes)


def is_api_request(header: Callable[[str], str | None]) -> bool:
    """True for requests made by code, which get 401 instead of a redirect to sign-in.

    ``header`` returns a request header by lower-case name. Fetch metadata decides when
    present (anything but a navigation is code); then ``X-Requested-With``; then
    ``Accept`` (only a client that asks for HTML is treated as a browser).
    """
    mode = header("sec-fetch-mode")
    if mode:
        return mode != "navigate"
    dest = header("sec-fetch-dest")
    if dest:
        return dest not in ("document", "iframe", "frame")
    if header("x-requested-with"):
        return True
    accept = header("accept") or ""
    return "text/html" not in accept and "application/xhtml+xml" not in accept
