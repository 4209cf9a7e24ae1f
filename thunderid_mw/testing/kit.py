"""``FakeThunderID``: sign a fake user in through an app's real middleware, from the app's
own tests, with no identity provider to run.

The kit drives the browser's side of a sign-in with the app's test client (werkzeug /
Flask ``test_client()``, Quart's ``test_client()``, starlette's or Litestar's
``TestClient``, Django's ``Client``/``AsyncClient``, Sanic's ``asgi_client``, or an
``httpx`` client over ``WSGITransport``/``ASGITransport``): ``/sign-in`` on the app, the
authorization request answered by ``FakeProvider`` for the user the test chose, then the
app's callback. The middleware exchanges the code and validates the ID token against the
fake provider over real HTTP, so everything the app sees is what a real sign-in gives it.
"""

from __future__ import annotations

import importlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from ..core.config import ThunderIDConfig
from ..core.crypto import Keys
from ..core.records import RecordCodec
from ..core.session import SessionRecord
from ..stores import MemoryStore, store_from_url
from ..stores.base import SessionStore
from .provider import DEFAULT_APP_URL, FakeProvider, FakeUser


class TestKitError(AssertionError):
    """The app did not answer the way a sign-in needs (the message says what it did)."""

    __test__ = False  # not a test class, whatever pytest's naming rules say


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    location: str | None
    set_cookies: tuple[str, ...]
    text: str


Steps = Generator[_Request, _Answer, Any]


@dataclass(slots=True)
class _App:
    """One app configured by the kit: what the kit needs to reach its sessions."""

    config: ThunderIDConfig
    store: SessionStore
    codec: RecordCodec
    keys: Keys
    session_ids: list[str] = field(default_factory=list)


class FakeThunderID:
    """What a test uses (the ``thunderid`` fixture): settings for the app, then
    ``sign_in``, ``sign_out``, ``back_channel_logout``, ``expire_tokens``,
    ``expire_sessions`` and ``provider.reject_refresh()``."""

    def __init__(self, provider: FakeProvider):
        self.provider = provider
        self._apps: list[_App] = []
        self._saved_environ: dict[str, str | None] = {}
        self._workdir: str | None = None

    def close(self) -> None:
        """Undo ``import_app``: the environment as it was, its session files removed (the
        fixture calls this after each test)."""
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # Settings for the app under test --------------------------------------------------

    def config(self, app_url: str = DEFAULT_APP_URL, **overrides: Any) -> ThunderIDConfig:
        """A ``ThunderIDConfig`` pointing at the fake provider, with an in-memory store.
        ``app_url`` is the origin the test client sends (werkzeug: ``http://localhost``,
        starlette's ``TestClient`` and Django's clients: ``http://testserver``, Sanic's
        ``app.asgi_client``: ``http://mockserver:1234``)."""
        settings: dict[str, Any] = {
            "base_url": self.provider.issuer,
            "client_id": self.provider.client_id,
            "client_secret": self.provider.client_secret,
            "after_sign_in_url": app_url.rstrip("/") + "/callback",
            "secret": secrets.token_urlsafe(32),
            "store": MemoryStore(),
            **overrides,
        }
        config = ThunderIDConfig(**settings)
        self._remember(config)
        return config

    def environ(self, store_url: str, app_url: str = DEFAULT_APP_URL) -> dict[str, str]:
        """``THUNDERID_*`` variables for an app that reads ``ThunderIDConfig.from_env()``;
        ``store_url`` must be shared by the app and the kit (``sqlite:///…`` in
        ``tmp_path``, or Redis), not ``memory://``."""
        variables = {
            "THUNDERID_BASE_URL": self.provider.issuer,
            "THUNDERID_CLIENT_ID": self.provider.client_id,
            "THUNDERID_CLIENT_SECRET": self.provider.client_secret,
            "THUNDERID_AFTER_SIGN_IN_URL": app_url.rstrip("/") + "/callback",
            "THUNDERID_SECRET": secrets.token_urlsafe(32),
            "THUNDERID_STORE": store_url,
        }
        self._remember(ThunderIDConfig.from_env(variables))
        return variables

    def import_app(self, target: str, app_url: str = DEFAULT_APP_URL) -> Any:
        """``"module:attribute"`` (or ``"module"``) imported anew with ``environ()``'s
        ``THUNDERID_*`` variables set, for an app built at import with
        ``ThunderIDConfig.from_env()``. The variables stay set until the test ends
        (``close()``); sessions go to a SQLite file of the kit's own."""
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="thunderid-kit-")
        store = f"sqlite:///{self._workdir}/sessions-{len(self._apps)}.sqlite3"
        for name, value in self.environ(store, app_url).items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        module_name, _, attribute = target.partition(":")
        sys.modules.pop(module_name, None)  # a module imported before read older settings
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module

    def _remember(self, config: ThunderIDConfig) -> None:
        store = config.store
        opened = store_from_url(store) if isinstance(store, str) else store
        if opened is None:
            raise ValueError("give the kit's config a store it can share with the app")
        keys = Keys.from_secret(config.secret)
        self._apps.append(_App(config, opened, RecordCodec(keys, config.encrypt_tokens), keys))

    @property
    def _app(self) -> _App:
        if not self._apps:
            raise TestKitError("build the app with thunderid.config() or thunderid.environ()")
        return self._apps[-1]

    # Acting as the browser ----------------------------------------------------------------

    def sign_in(
        self,
        client: Any,
        sub: str = "user-1",
        *,
        claims: Mapping[str, Any] | None = None,
        scopes: tuple[str, ...] = ("openid", "profile"),
        expires_in: int = 3600,
        refresh: bool = True,
        return_to: str = "/",
    ) -> str:
        """Sign ``sub`` in on ``client`` (a sync test client); returns where the app sent
        the browser afterwards (``return_to``)."""
        user = FakeUser(sub, dict(claims or {}), scopes, expires_in, refresh)
        result: str = _run_sync(client, self._sign_in_steps(user, return_to))
        return result

    async def async_sign_in(
        self,
        client: Any,
        sub: str = "user-1",
        *,
        claims: Mapping[str, Any] | None = None,
        scopes: tuple[str, ...] = ("openid", "profile"),
        expires_in: int = 3600,
        refresh: bool = True,
        return_to: str = "/",
    ) -> str:
        """``sign_in`` for an async client: ``httpx.AsyncClient`` (over ``ASGITransport``),
        Quart's ``app.test_client()``, Sanic's ``app.asgi_client`` or Django's
        ``AsyncClient``."""
        user = FakeUser(sub, dict(claims or {}), scopes, expires_in, refresh)
        result: str = await _run_async(client, self._sign_in_steps(user, return_to))
        return result

    def sign_out(self, client: Any) -> str:
        """Sign out as the browser does after confirming; returns the end-session URL."""
        result: str = _run_sync(client, self._sign_out_steps())
        return result

    async def async_sign_out(self, client: Any) -> str:
        result: str = await _run_async(client, self._sign_out_steps())
        return result

    def back_channel_logout(self, client: Any, sub: str = "user-1") -> int:
        """The provider ends ``sub``'s sessions (OpenID Connect Back-Channel Logout): a
        signed logout token POSTed to the app. Returns the app's status (200)."""
        result: int = _run_sync(client, self._logout_steps(sub))
        return result

    async def async_back_channel_logout(self, client: Any, sub: str = "user-1") -> int:
        result: int = await _run_async(client, self._logout_steps(sub))
        return result

    # Time, without waiting ------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every signed-in session's access token is now expired: the next request
        refreshes it at the fake provider (or ends the session, after
        ``provider.reject_refresh()``)."""
        self._rewrite(lambda r, now: r.with_tokens(replace(r.tokens, expires_at=now - 1)))

    def expire_sessions(self) -> None:
        """Every signed-in session reaches its absolute lifetime: the next request is
        signed out, ``ctx.ended_reason`` is ``expired``."""
        self._rewrite(lambda r, now: replace(r, absolute_expires_at=now - 1))

    def _rewrite(self, change: Any) -> None:
        now = time.time()
        for app in self._apps:
            for session_id in app.session_ids:
                key = app.keys.store_key_for("s", session_id)
                item = app.store.load(key)
                record = app.codec.decode(item.data, key) if item is not None else None
                if item is None or record is None or record.ended is not None:
                    continue
                changed: SessionRecord = change(record, now)
                data = app.codec.encode(changed, key, secrets.token_bytes(app.codec.nonce_size))
                app.store.save(key, data, expires_at=now + 3600, expected_version=item.version)

    # The steps, written once for sync and async clients --------------------------------------

    def _sign_in_steps(self, user: FakeUser, return_to: str) -> Steps:
        app = self._app
        config = app.config
        answer = yield _Request("GET", config.sign_in_path + "?return_to=" + quote(return_to))
        location = answer.location or ""
        if answer.status != 302 or not location.startswith(self.provider.issuer):
            if "origin_checked=" in location:
                raise TestKitError(
                    f"the test client's origin is not {config.app_origin}: build the config "
                    "with thunderid.config(app_url=<the client's base URL>), e.g. "
                    "'http://testserver' for starlette's TestClient and Django's Client, "
                    "'http://mockserver:1234' for Sanic's app.asgi_client"
                )
            raise TestKitError(
                f"{config.sign_in_path} answered {answer.status} {location!r}, not a "
                f"redirect to the fake provider: is the app wrapped by the middleware, "
                f"with thunderid.config()? {answer.text[:200]}"
            )
        callback = self.provider.authorize(location, user)
        parts = urlsplit(callback)
        answer = yield _Request("GET", f"{parts.path}?{parts.query}")
        session_id = _cookie_value(answer.set_cookies, config.cookie_name)
        if answer.status != 302 or not session_id:
            raise TestKitError(
                f"the callback answered {answer.status}, not a signed-in redirect: "
                f"{answer.text[:300]}"
            )
        app.session_ids.append(session_id)
        return answer.location or ""

    def _sign_out_steps(self) -> Steps:
        config = self._app.config
        # What the confirmation form's POST carries, as a same-origin browser sends it.
        answer = yield _Request(
            "POST", config.sign_out_path, {"Sec-Fetch-Site": "same-origin"}, form={}
        )
        if answer.status != 303:
            raise TestKitError(f"sign-out answered {answer.status}: {answer.text[:200]}")
        return answer.location or ""

    def _logout_steps(self, sub: str) -> Steps:
        config = self._app.config
        if config.backchannel_logout_path is None:
            raise TestKitError("the app has back-channel logout turned off")
        token = self.provider.logout_token(sub=sub)
        answer = yield _Request(
            "POST", config.backchannel_logout_path, form={"logout_token": token}
        )
        return answer.status


def _cookie_value(set_cookies: tuple[str, ...], name: str) -> str | None:
    for header in set_cookies:
        first = header.split(";", 1)[0]
        cookie_name, _, value = first.partition("=")
        if cookie_name.strip() == name:
            return value.strip()
    return None


def _run_sync(client: Any, steps: Steps) -> Any:
    """Drive ``steps`` with a sync test client: an ``httpx.Client`` (starlette's
    ``TestClient`` is one), a werkzeug ``Client`` (Flask's ``test_client()``) or Django's
    ``django.test.Client``."""
    answer: _Answer | None = None
    while True:
        try:
            request = steps.send(answer) if answer is not None else next(steps)
        except StopIteration as stop:
            return stop.value
        if hasattr(client, "application"):  # werkzeug's Client names the app it calls
            answer = _from_werkzeug(_werkzeug_call(client, request))
        elif _is_django_client(client):
            answer = _from_django(client.generic(**_django_args(request)))
        else:
            response = client.request(
                request.method, request.path, **_httpx_args(request), follow_redirects=False
            )
            answer = _from_httpx(response)


async def _run_async(client: Any, steps: Steps) -> Any:
    """``_run_sync`` for async clients: ``httpx.AsyncClient``, Quart's
    ``app.test_client()``, Sanic's ``app.asgi_client`` (sanic-testing) or Django's
    ``django.test.AsyncClient``."""
    answer: _Answer | None = None
    while True:
        try:
            request = steps.send(answer) if answer is not None else next(steps)
        except StopIteration as stop:
            return stop.value
        if _is_django_client(client):
            answer = _from_django(await client.generic(**_django_args(request)))
            continue
        if type(client).__module__.startswith("quart."):  # app.test_client()
            answer = await _from_quart(await client.open(request.path, **_quart_args(request)))
            continue
        response = await client.request(
            request.method, request.path, **_httpx_args(request), follow_redirects=False
        )
        if isinstance(response, tuple):  # sanic-testing answers (request, response)
            response = response[-1]
        answer = _from_httpx(response)


def _is_django_client(client: Any) -> bool:
    return any(
        kind.__module__ == "django.test.client" and kind.__name__ == "ClientMixin"
        for kind in type(client).__mro__
    )


def _django_args(request: _Request) -> dict[str, Any]:
    """``generic`` arguments (Django's test clients: the query string stays in the path,
    and ``generic`` follows no redirect)."""
    form = urlencode(dict(request.form)) if request.form is not None else ""
    return {
        "method": request.method,
        "path": request.path,
        "data": form,
        "content_type": "application/x-www-form-urlencoded",
        "headers": dict(request.headers),
    }


def _quart_args(request: _Request) -> dict[str, Any]:
    headers = dict(request.headers)
    if request.form is None:
        return {"method": request.method, "headers": headers}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return {"method": request.method, "headers": headers, "data": urlencode(dict(request.form))}


def _httpx_args(request: _Request) -> dict[str, Any]:
    headers = dict(request.headers)
    if request.form is None:
        return {"headers": headers}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return {"headers": headers, "content": urlencode(dict(request.form))}


def _werkzeug_call(client: Any, request: _Request) -> Any:
    if request.form is None:
        return client.open(request.path, method=request.method, headers=dict(request.headers))
    return client.open(
        request.path,
        method=request.method,
        headers=dict(request.headers),
        data=urlencode(dict(request.form)),
        content_type="application/x-www-form-urlencoded",
    )


def _from_httpx(response: httpx.Response) -> _Answer:
    return _Answer(
        response.status_code,
        response.headers.get("location"),
        tuple(response.headers.get_list("set-cookie")),
        response.text,
    )


def _from_werkzeug(response: Any) -> _Answer:
    return _Answer(
        response.status_code,
        response.headers.get("Location"),
        tuple(response.headers.getlist("Set-Cookie")),
        response.get_data(as_text=True),
    )


def _from_django(response: Any) -> _Answer:
    return _Answer(
        response.status_code,
        response.headers.get("Location"),
        tuple(morsel.OutputString() for morsel in response.cookies.values()),
        response.content.decode("utf-8", "replace") if not response.streaming else "",
    )


async def _from_quart(response: Any) -> _Answer:
    return _Answer(
        response.status_code,
        response.headers.get("Location"),
        tuple(response.headers.getlist("Set-Cookie")),
        await response.get_data(as_text=True),
    )
