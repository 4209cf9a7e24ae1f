"""``ThunderIDWSGIMiddleware``: a plain WSGI callable around any WSGI app.

It only translates: environ → ``RequestInfo``/cookie header, core ``Response`` → WSGI.
Every decision is the core's (``thunderid_mw.core.handler``), shared with the ASGI twin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ._logging import log_unavailable
from ._pages import drawn
from .client import ThunderIDClient
from .context import CONTEXT_KEY
from .core.authorization import refusal
from .core.config import ThunderIDConfig
from .core.errors import ProviderError, RefreshUnavailable, StoreUnavailable
from .core.handler import MAX_FORM_BYTES, RequestInfo, challenge, parse_form, unavailable_for
from .core.paths import mount_prefix
from .core.proxy import Network, public_origin
from .core.responses import Response, status_line
from .core.routing import Route

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class ThunderIDWSGIMiddleware:
    """Wrap ``app``; every request gets ``environ["thunderid"]`` (an ``AuthContext``)."""

    def __init__(
        self,
        app: WSGIApp,
        client: ThunderIDConfig | ThunderIDClient | None = None,
        *,
        config_or_client: ThunderIDConfig | ThunderIDClient | None = None,
    ):
        """``client``: the ThunderIDClient to use (shared with the app's own code), or a
        ``ThunderIDConfig`` to make one from. ``config_or_client=`` is its older name."""
        given = client if config_or_client is None else config_or_client
        if given is None or (client is not None and config_or_client is not None):
            raise TypeError(
                "ThunderIDWSGIMiddleware takes one client= (a ThunderIDClient or a ThunderIDConfig)"
            )
        self.app = app
        self.client = given if isinstance(given, ThunderIDClient) else ThunderIDClient(given)
        self.config = self.client.config
        self._routes = self.client._router.routes
        self._route_for = self.client._router.route_for
        self._is_protected = self.client._router.is_protected
        self._router = self.client._router
        self._has_requirements = self._router.has_requirements
        self._session_id_in = self.client._session_id_in
        self._cookie_needle = self.config.cookie_name + "="  # no needle: no parsing at all
        self._signed_out = self.client.signed_out
        self._cached_context = self.client._cached_context

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = _app_path(environ)
        mount = environ.get("SCRIPT_NAME", "")
        route = self._routes.get(path)  # Router.route_for, its common case inlined
        if route is None and mount:
            route = self._route_for(path, mount_prefix(mount))
        if route is not None:
            request = _request_info(
                environ,
                read_form=environ.get("REQUEST_METHOD") == "POST",
                networks=self.config.trusted_proxy_networks,
            )
            return self._answer(self.client.handle_route(route, request), start_response)
        cookies = environ.get("HTTP_COOKIE")
        session_id = (
            self._session_id_in(cookies) if cookies and self._cookie_needle in cookies else None
        )
        if session_id is None:  # the cheapest path: no store
            query = environ.get("QUERY_STRING", "")
            if "state=" in query and self._router.is_sign_out_return(  # the query: rarely there
                mount_prefix(mount) + path, query, environ.get("HTTP_COOKIE")
            ):
                request = _request_info(environ, networks=self.config.trusted_proxy_networks)
                return self._answer(
                    self.client.handle_route(Route.SIGNED_OUT, request), start_response
                )
            if self._is_protected(path):
                return self._answer(
                    challenge(self.config, _request_info(environ), None), start_response
                )
            signed_out = self._signed_out
            environ[CONTEXT_KEY] = signed_out.mounted(mount_prefix(mount)) if mount else signed_out
            return self.app(environ, start_response)
        ctx = self._cached_context(session_id)  # a fresh session in a local store
        if ctx is None:
            try:
                ctx = self.client.context_for_session(session_id)
            except (RefreshUnavailable, StoreUnavailable, ProviderError) as exc:
                log_unavailable(exc)
                return self._answer(unavailable_for(_request_info(environ), exc), start_response)
        if not ctx.is_signed_in:
            if self._is_protected(path):
                response = challenge(self.config, _request_info(environ), ctx.ended_reason)
                return self._answer(response, start_response)
        elif self._has_requirements:
            requirements = self._router.requirements_for(path)
            denied = refusal(
                requirements,
                ctx.user,
                ctx.scopes,
                lambda: _request_info(environ),
                config=self.config,
                now=time.time,
            )
            if denied is not None:
                return self._answer(denied, start_response)
        environ[CONTEXT_KEY] = ctx.mounted(mount_prefix(mount)) if mount else ctx
        return self.app(environ, start_response)

    def _answer(self, response: Response, start_response: StartResponse) -> list[bytes]:
        return _send(drawn(response, self.config.render_page), start_response)


def _app_path(environ: Environ) -> str:
    """``PATH_INFO`` as text: WSGI servers pass the URL's bytes as latin-1 characters."""
    path: str = environ.get("PATH_INFO") or "/"
    if not path.isascii():
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return path


def _request_info(
    environ: Environ, *, read_form: bool = False, networks: tuple[Network, ...] = ()
) -> RequestInfo:
    def header(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    form = None
    if read_form:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if 0 < length <= MAX_FORM_BYTES else b""
        form = parse_form(body)
    return RequestInfo(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=_app_path(environ),
        mount=mount_prefix(environ.get("SCRIPT_NAME", "")),
        query_string=environ.get("QUERY_STRING", ""),
        cookie_header=environ.get("HTTP_COOKIE"),
        header=header,
        form=form,
        origin=public_origin(
            environ.get("wsgi.url_scheme", "http"),
            environ.get("HTTP_HOST") or _server_host(environ),
            environ.get("REMOTE_ADDR"),
            header,
            networks,
        ),
    )


def _server_host(environ: Environ) -> str | None:
    name = environ.get("SERVER_NAME")
    port = environ.get("SERVER_PORT")
    return f"{name}:{port}" if name and port else name


def _send(response: Response, start_response: StartResponse) -> list[bytes]:
    start_response(status_line(response.status), response.headers)
    return [response.body]
