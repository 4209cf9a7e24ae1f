"""Which requests the middleware answers itself, which paths need a session, and whether
a request comes from a browser navigation or from code (fetch/XHR/API client)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from .authorization import Requirement
from .config import ThunderIDConfig
from .cookies import sign_out_state_cookie
from .paths import is_plain, routable_forms

#: How many paths' protection answers a router remembers, for paths up to how long (so
#: the memory stays under a megabyte whatever is sent).
PROTECTION_MEMORY = 4096
REMEMBERED_PATH_LENGTH = 200


class Route(Enum):
    SIGN_IN = "sign_in"
    CALLBACK = "callback"
    SIGN_OUT = "sign_out"
    BACKCHANNEL_LOGOUT = "backchannel_logout"
    # Back from the provider's end-session endpoint with a state to check: never in
    # ``routes``; the adapters send only requests that carry the sign-out state cookie.
    SIGNED_OUT = "signed_out"


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
        protected = (*config.protected_paths, *config.path_requirements)
        self._exact, self._prefixes = _patterns(protected)
        self._rules = tuple(
            (_patterns([path]), requirement)
            for path, requirement in config.path_requirements.items()
        )
        # post_sign_out_url's path, and the cookie that marks a return to it to check.
        self.sign_out_return_path = config.sign_out_return_path
        self._sign_out_cookie = sign_out_state_cookie(config) + "="
        #: Whether any path has a requirement beyond being signed in.
        self.has_requirements = bool(self._rules)
        # path -> is_protected(path); adapters may read it (never write) to skip a call
        self.protection_known: dict[str, bool] = {}

    def route_for(self, path: str, mount: str = "") -> Route | None:
        """The middleware's own route at app-relative ``path``. The callback path comes from
        ``after_sign_in_url`` and so may include the mount prefix: both forms match."""
        route = self.routes.get(path)
        if route is None and mount:
            route = self.routes.get(mount + path)
        return route

    def is_sign_out_return(self, path: str, query_string: str, cookie_header: str | None) -> bool:
        """A signed-out request that is the provider's redirect back after sign-out: at
        ``post_sign_out_url``'s path (mount included), with a ``state``, from a browser that
        holds the sign-out state cookie. Checked only for requests without a session."""
        return (
            cookie_header is not None
            and self._sign_out_cookie in cookie_header
            and path == self.sign_out_return_path
            and "state=" in query_string
        )

    def is_protected(self, path: str) -> bool:
        """Whether app-relative ``path`` needs a session, in any form a framework could
        route it (``//admin``, ``/./admin``, ``/%2Fadmin`` all count as ``/admin``).

        Runs on every signed-out request, so answers are remembered: an app has few paths,
        and a flood of made-up ones only empties the memory (never a wrong answer)."""
        known = self.protection_known.get(path)
        if known is not None:
            return known
        protected = _matches(path, self._exact, self._prefixes)
        if len(path) <= REMEMBERED_PATH_LENGTH:
            if len(self.protection_known) >= PROTECTION_MEMORY:
                self.protection_known.clear()
            self.protection_known[path] = protected
        return protected

    def requirements_for(self, path: str) -> list[Requirement]:
        """The ``path_requirements`` that apply at app-relative ``path`` (every matching
        entry, so a rule on ``/admin`` still holds under a rule on ``/admin/users``)."""
        return [req for (exact, prefixes), req in self._rules if _matches(path, exact, prefixes)]


def _patterns(paths: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    # "/admin" covers "/admin/..."; "/admin*" also "/administrator"; "/" covers all.
    paths = tuple(paths)
    exact = [p for p in paths if not p.endswith("*")]
    prefixes = tuple(p.rstrip("/") + "/" for p in exact) + tuple(
        p[:-1] for p in paths if p.endswith("*")
    )
    return frozenset(p.rstrip("/") or "/" for p in exact), prefixes


def _matches(path: str, exact: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    # In any form a framework could route it: "//admin", "/./admin", "/%2Fadmin" = "/admin".
    if is_plain(path):
        return path in exact or path.startswith(prefixes)
    return any(form in exact or form.startswith(prefixes) for form in routable_forms(path))


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
