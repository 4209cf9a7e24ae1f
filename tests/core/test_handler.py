"""The middleware's decisions: safe redirects, browser vs API, protection, and its routes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.errors import StoreContention, StoreUnavailable
from thunderid_mw.core.handler import (
    MAX_FORM_BYTES,
    RequestInfo,
    challenge,
    parse_form,
    route_flow,
    unavailable_for,
)
from thunderid_mw.core.redirects import MAX_RETURN_TO, safe_return_to
from thunderid_mw.core.responses import Response
from thunderid_mw.core.routing import Route, Router, is_api_request
from thunderid_mw.core.session import EndReason

from .driver import (
    APP_URL,
    ISSUER,
    LOGOUT_URL,
    REVOKE_URL,
    TOKEN_URL,
    World,
    json_result,
    make_config,
    make_env,
    make_metadata,
    make_record,
    mint_id_token,
    token_json,
)

COOKIE = "__Host-__thunderid__session"  # the test config is https
TX_PREFIX = COOKIE + ".tx."
BROWSER = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}
API = {"accept": "application/json"}


# safe_return_to ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["/", "/a?b=c", "/a/b#frag", "/a%2F%2Fb", "/path//x"])
def test_safe_return_to_accepts_local_paths(value: str) -> None:
    assert safe_return_to(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "https://elsewhere.example/",
        "http://elsewhere.example",
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "relative/path",
        "/a\nb",
        "/a\rLocation: https://evil.example",
        "/\t/evil.example",
        "/a\x00",
        "/a\x7f",
        "/" + "a" * MAX_RETURN_TO,
        "",
        None,
    ],
)
def test_safe_return_to_rejects(value: str | None) -> None:
    assert safe_return_to(value) is None


# is_api_request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "api"),
    [
        ({"sec-fetch-mode": "navigate", "accept": "application/json"}, False),
        ({"sec-fetch-mode": "cors", "accept": "text/html"}, True),
        ({"sec-fetch-mode": "no-cors"}, True),
        ({"sec-fetch-mode": "same-origin"}, True),
        ({"sec-fetch-mode": "navigate", "x-requested-with": "XMLHttpRequest"}, False),
        ({"sec-fetch-dest": "document"}, False),
        ({"sec-fetch-dest": "iframe"}, False),
        ({"sec-fetch-dest": "empty", "accept": "text/html"}, True),
        ({"sec-fetch-dest": "image"}, True),
        ({"x-requested-with": "XMLHttpRequest", "accept": "text/html"}, True),
        ({"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, False),
        ({"accept": "application/xhtml+xml"}, False),
        ({"accept": "application/json"}, True),
        ({"accept": "*/*"}, True),  # curl, httpx, fetch() defaults
        ({}, True),
    ],
)
def test_is_api_request(headers: dict[str, str], api: bool) -> None:
    assert is_api_request(headers.get) is api


# Router -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "protected"),
    [
        ("/admin", True),
        ("/admin/", True),
        ("/admin/x", True),
        ("/admin/x/y", True),
        ("/administrator", False),
        ("/admin-panel", False),
        ("/", False),
        ("/public", False),
        ("/api/me", True),
        ("/api", True),
        ("/apis", False),
    ],
)
def test_router_is_protected(path: str, protected: bool) -> None:
    router = Router(make_config(protected_paths=("/admin", "/api/")))
    assert router.is_protected(path) is protected


def test_root_protects_everything() -> None:
    router = Router(make_config(protected_paths=("/",)))
    assert router.is_protected("/") and router.is_protected("/anything/below")


def test_nothing_protected_by_default() -> None:
    router = Router(make_config(protected_paths=()))
    assert not router.is_protected("/admin")


def test_router_routes() -> None:
    config = make_config(after_sign_in_url=APP_URL + "/auth/done", sign_in_path="/login")
    routes = Router(config).routes
    assert routes["/login"] is Route.SIGN_IN
    assert routes["/auth/done"] is Route.CALLBACK
    assert routes["/sign-out"] is Route.SIGN_OUT
    assert "/sign-in" not in routes


# Helpers ----------------------------------------------------------------------------------


def request(
    method: str = "GET",
    path: str = "/",
    query: str | Mapping[str, str] = "",
    *,
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> RequestInfo:
    lowered = {k.lower(): v for k, v in (headers if headers is not None else BROWSER).items()}
    cookie_header = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items()) or None
    query_string = query if isinstance(query, str) else urlencode(query)
    return RequestInfo(method, path, query_string, cookie_header, lowered.get, form)


def header_values(response: Response, name: str) -> list[str]:
    return [v for k, v in response.headers if k.lower() == name.lower()]


def location(response: Response) -> str:
    (value,) = header_values(response, "Location")
    return value


def set_cookies(response: Response) -> dict[str, tuple[str, bool]]:
    """name -> (value, deleted)."""
    out = {}
    for value in header_values(response, "Set-Cookie"):
        pair, _, attrs = value.partition(";")
        name, _, val = pair.partition("=")
        out[name] = (val, "Max-Age=0" in attrs)
    return out


class Browser:
    """A cookie jar that applies Set-Cookie headers."""

    def __init__(self) -> None:
        self.jar: dict[str, str] = {}

    def apply(self, response: Response) -> None:
        for name, (value, deleted) in set_cookies(response).items():
            if deleted:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    def tx_cookies(self) -> dict[str, str]:
        return {k: v for k, v in self.jar.items() if k.startswith(TX_PREFIX)}


def sign_in(world: World, env: FlowEnv, browser: Browser, return_to: str = "/next") -> Response:
    response = world.run(
        route_flow(env, Route.SIGN_IN, request(query={"return_to": return_to}, cookies=browser.jar))
    )
    browser.apply(response)
    return response


def idp_issues_tokens(world: World, nonce: str, **claims: Any) -> None:
    def respond(call: fx.HttpCall) -> fx.HttpResult:
        id_token = mint_id_token(now=world.now, nonce=nonce, **claims)
        return json_result(200, token_json("at-1", refresh_token="rt-1", id_token=id_token))

    world.http[TOKEN_URL] = respond


def callback(
    world: World, env: FlowEnv, browser: Browser, query: Mapping[str, str], **kw: Any
) -> Response:
    response = world.run(
        route_flow(env, Route.CALLBACK, request(query=query, cookies=browser.jar, **kw))
    )
    browser.apply(response)
    return response


# Sign-in route ------------------------------------------------------------------------------


def test_sign_in_redirects_with_a_transaction_cookie(world: World, env: FlowEnv) -> None:
    browser = Browser()
    response = sign_in(world, env, browser, "/a?b=c")
    assert response.status == 302
    q = parse_qs(urlsplit(location(response)).query)
    (name,) = browser.tx_cookies()
    assert name == TX_PREFIX + q["state"][0][:16]
    (raw,) = header_values(response, "Set-Cookie")
    assert "HttpOnly" in raw and "SameSite=Lax" in raw and "Secure" in raw
    assert f"Max-Age={int(env.config.sign_in_timeout)}" in raw
    assert ("Cache-Control", "no-store") in response.headers


@pytest.mark.parametrize(
    "return_to", ["https://elsewhere.example/", "//evil.example", "/\\evil", "javascript:x"]
)
@pytest.mark.parametrize(("headers", "content_type"), [(BROWSER, "text/html"), (API, "json")])
def test_sign_in_bad_return_to_is_400(
    world: World, env: FlowEnv, return_to: str, headers: dict[str, str], content_type: str
) -> None:
    response = world.run(
        route_flow(env, Route.SIGN_IN, request(query={"return_to": return_to}, headers=headers))
    )
    assert response.status == 400
    assert b"bad_return_to" in response.body
    assert content_type in header_values(response, "Content-Type")[0]
    assert header_values(response, "Location") == []
    assert header_values(response, "Set-Cookie") == []


def test_sign_in_without_return_to_goes_home(world: World, env: FlowEnv) -> None:
    browser = Browser()
    sign_in_response = world.run(route_flow(env, Route.SIGN_IN, request()))
    browser.apply(sign_in_response)
    state = parse_qs(urlsplit(location(sign_in_response)).query)["state"][0]
    nonce = parse_qs(urlsplit(location(sign_in_response)).query)["nonce"][0]
    idp_issues_tokens(world, nonce)
    response = callback(world, env, browser, {"code": "c", "state": state, "iss": ISSUER})
    assert location(response) == "/"


@pytest.mark.parametrize("method", ["POST", "HEAD", "PUT", "OPTIONS"])
def test_sign_in_other_than_get_is_405_and_starts_nothing(
    world: World, env: FlowEnv, method: str
) -> None:
    """HEAD too: link checkers send it to every URL, and a sign-in leaves a transaction."""
    response = world.run(route_flow(env, Route.SIGN_IN, request(method)))
    assert response.status == 405
    assert ("Allow", "GET") in response.headers
    assert not [v for k, v in response.headers if k.lower() == "set-cookie"]
    assert world.of_type(fx.RandomBytes) == []  # no state, nonce or verifier was made


def test_parallel_sign_ins_are_bounded_oldest_evicted(world: World) -> None:
    env = make_env(make_config(max_sign_ins_in_progress=3))
    browser = Browser()
    states: list[str] = []
    for _ in range(7):
        response = sign_in(world, env, browser)
        states.append(parse_qs(urlsplit(location(response)).query)["state"][0])
        assert len(browser.tx_cookies()) <= 3
        world.now += 1
    assert set(browser.tx_cookies()) == {TX_PREFIX + s[:16] for s in states[-3:]}


def test_expired_and_garbage_transactions_are_evicted_first(world: World) -> None:
    env = make_env(make_config(max_sign_ins_in_progress=3))
    browser = Browser()
    sign_in(world, env, browser)  # will expire
    world.now += env.config.sign_in_timeout + 1
    browser.jar[TX_PREFIX + "g" * 16] = "not-a-transaction"
    sign_in(world, env, browser)
    (survivor,) = browser.tx_cookies()
    response = sign_in(world, env, browser)
    assert survivor in browser.tx_cookies()
    assert len(browser.tx_cookies()) == 2
    assert set_cookies(response)  # the new cookie was set


# Callback route -----------------------------------------------------------------------------


def complete(world: World, env: FlowEnv, browser: Browser, return_to: str = "/next") -> Response:
    started = sign_in(world, env, browser, return_to)
    q = parse_qs(urlsplit(location(started)).query)
    idp_issues_tokens(world, q["nonce"][0])
    return callback(world, env, browser, {"code": "c", "state": q["state"][0], "iss": ISSUER})


def test_callback_signs_in_and_returns(world: World, env: FlowEnv) -> None:
    browser = Browser()
    response = complete(world, env, browser, "/a?b=c")
    assert response.status == 302
    assert location(response) == "/a?b=c"
    assert browser.tx_cookies() == {}  # the transaction cookie was deleted
    session_id = browser.jar[COOKIE]
    stored = world.read_session(env, env.keys.store_key_for("s", session_id))
    assert stored is not None
    assert stored.record.tokens.access_token == "at-1"
    (raw,) = [c for c in header_values(response, "Set-Cookie") if c.startswith(COOKIE + "=")]
    assert "HttpOnly" in raw and "Secure" in raw and "SameSite=Lax" in raw


def test_callback_replaces_an_existing_session(world: World, env: FlowEnv) -> None:
    browser = Browser()
    complete(world, env, browser)
    first = browser.jar[COOKIE]
    complete(world, env, browser)
    second = browser.jar[COOKIE]
    assert second != first
    old = world.read_session(env, env.keys.store_key_for("s", first))
    assert old is not None
    assert old.record.ended is EndReason.SIGNED_OUT


def test_replayed_callback_is_unknown_state(world: World, env: FlowEnv) -> None:
    browser = Browser()
    started = sign_in(world, env, browser)
    q = parse_qs(urlsplit(location(started)).query)
    idp_issues_tokens(world, q["nonce"][0])
    query = {"code": "c", "state": q["state"][0], "iss": ISSUER}
    assert callback(world, env, browser, query).status == 302
    calls = len(world.calls)
    replay = callback(world, env, browser, query)
    assert replay.status == 400
    assert b"unknown_state" in replay.body
    assert len(world.calls) == calls  # the code was not sent again


@pytest.mark.parametrize(
    ("headers", "content_type"), [(BROWSER, "text/html"), ({"accept": "application/json"}, "json")]
)
def test_callback_without_transaction_cookie(
    world: World, env: FlowEnv, headers: dict[str, str], content_type: str
) -> None:
    response = world.run(
        route_flow(
            env, Route.CALLBACK, request(query={"code": "c", "state": "s" * 43}, headers=headers)
        )
    )
    assert response.status == 400
    assert content_type in header_values(response, "Content-Type")[0]
    if content_type == "json":
        assert json.loads(response.body)["error"] == "unknown_state"
    else:
        assert b"unknown_state" in response.body
        assert b"Sign in again" in response.body
    assert world.calls == []


def test_callback_with_idp_error_deletes_the_transaction(world: World, env: FlowEnv) -> None:
    browser = Browser()
    started = sign_in(world, env, browser)
    state = parse_qs(urlsplit(location(started)).query)["state"][0]
    response = callback(
        world,
        env,
        browser,
        {"error": "access_denied", "error_description": "no <b>thanks</b>", "state": state},
    )
    assert response.status == 403
    assert browser.tx_cookies() == {}
    assert b"<b>" not in response.body  # escaped
    assert COOKIE not in browser.jar


def test_callback_with_tampered_transaction(world: World, env: FlowEnv) -> None:
    browser = Browser()
    started = sign_in(world, env, browser)
    state = parse_qs(urlsplit(location(started)).query)["state"][0]
    (name,) = browser.tx_cookies()
    browser.jar[name] = browser.jar[name][:-4] + "AAAA"
    response = callback(world, env, browser, {"code": "c", "state": state})
    assert response.status == 400
    assert b"unknown_state" in response.body


def test_callback_when_the_idp_is_down_is_502(world: World, env: FlowEnv) -> None:
    browser = Browser()
    started = sign_in(world, env, browser)
    state = parse_qs(urlsplit(location(started)).query)["state"][0]
    world.http.pop(TOKEN_URL, None)  # connection refused
    response = callback(world, env, browser, {"code": "c", "state": state})
    assert response.status == 502
    assert b"provider_error" in response.body
    assert world.logs


def test_callback_when_the_store_is_down_is_503(world: World, env: FlowEnv) -> None:
    browser = Browser()
    started = sign_in(world, env, browser)
    q = parse_qs(urlsplit(location(started)).query)
    idp_issues_tokens(world, q["nonce"][0])

    def down(_: fx.Effect) -> None:
        raise StoreUnavailable("down")

    world.hook(fx.Save, down)
    response = callback(world, env, browser, {"code": "c", "state": q["state"][0]})
    assert response.status == 503
    assert header_values(response, "Retry-After")


def test_callback_when_the_store_is_contended_is_503_not_502(
    world: World, env: FlowEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser()
    started = sign_in(world, env, browser)
    q = parse_qs(urlsplit(location(started)).query)
    idp_issues_tokens(world, q["nonce"][0])
    monkeypatch.setattr(world, "save", lambda *args: None)  # every compare-and-set lost
    response = callback(world, env, browser, {"code": "c", "state": q["state"][0]})
    assert response.status == 503
    assert header_values(response, "Retry-After") == ["5"]
    assert b"was busy" in response.body and b"provider" not in response.body


def test_store_contention_on_a_request_is_503_with_its_retry_after() -> None:
    response = unavailable_for(request(), StoreContention("kept changing"))
    assert response.status == 503
    assert header_values(response, "Retry-After") == ["1"]
    assert b"busy" in response.body


def test_callback_with_repeated_parameters(world: World, env: FlowEnv) -> None:
    response = world.run(route_flow(env, Route.CALLBACK, request(query="state=a&state=b&code=c")))
    assert response.status == 400
    assert b"bad_callback" in response.body


# Sign-out route -----------------------------------------------------------------------------

SID = "z" * 43


def signed_in(world: World, env: FlowEnv) -> str:
    key = env.keys.store_key_for("s", SID)
    world.put_session(env, key, make_record(world.now, id_token="the-id-token"))
    world.http[REVOKE_URL] = lambda call: fx.HttpResult(200, b"")
    return key


def sign_out(world: World, env: FlowEnv, method: str, **kw: Any) -> Response:
    return world.run(route_flow(env, Route.SIGN_OUT, request(method, "/sign-out", **kw)))


def test_sign_out_get_shows_a_confirmation_with_csrf(world: World, env: FlowEnv) -> None:
    key = signed_in(world, env)
    response = sign_out(world, env, "GET", cookies={COOKIE: SID})
    assert response.status == 200
    assert env.keys.csrf_token(SID).encode() in response.body
    assert b'method="post"' in response.body
    assert ("X-Frame-Options", "DENY") in response.headers
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.ended is None  # a GET signs no one out
    assert world.calls == []


def test_sign_out_get_without_session_redirects(world: World, env: FlowEnv) -> None:
    response = sign_out(world, env, "GET")
    assert response.status == 302
    assert location(response) == APP_URL + "/bye"


def confirmed_sign_out(world: World, env: FlowEnv) -> Response:
    """A signed-in browser confirms sign-out with the form's CSRF token."""
    signed_in(world, env)
    return sign_out(
        world,
        env,
        "POST",
        cookies={COOKIE: SID},
        form={"csrf_token": env.keys.csrf_token(SID)},
        headers={**BROWSER, "origin": APP_URL},
    )


def test_sign_out_post_with_csrf(world: World, env: FlowEnv) -> None:
    response = confirmed_sign_out(world, env)
    key = env.keys.store_key_for("s", SID)
    assert response.status == 303
    target = location(response)
    assert target.startswith(LOGOUT_URL + "?")
    assert parse_qs(urlsplit(target).query)["id_token_hint"] == ["the-id-token"]
    assert set_cookies(response)[COOKIE] == ("", True)
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.ended is EndReason.SIGNED_OUT
    assert [c.url for c in world.calls] == [REVOKE_URL, REVOKE_URL]


def test_sign_out_post_same_origin_fetch_without_csrf(world: World, env: FlowEnv) -> None:
    key = signed_in(world, env)
    response = sign_out(
        world, env, "POST", cookies={COOKIE: SID}, headers={"sec-fetch-site": "same-origin"}
    )
    assert response.status == 303
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.ended is EndReason.SIGNED_OUT


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        # A foreign Origin never signs out, even with the right token.
        ("right", {"origin": "https://evil.example"}),
        ("right", {"origin": "https://app.test.evil.example"}),
        (None, {"origin": "https://evil.example", "sec-fetch-site": "same-origin"}),
        # No token and no same-origin fetch metadata.
        (None, {}),
        (None, {"sec-fetch-site": "cross-site"}),
        (None, {"sec-fetch-site": "same-site"}),
        ("wrong", {"origin": APP_URL}),
    ],
)
def test_sign_out_post_from_elsewhere_is_403(
    world: World, env: FlowEnv, form: str | None, headers: dict[str, str]
) -> None:
    key = signed_in(world, env)
    token = {"right": env.keys.csrf_token(SID), "wrong": env.keys.csrf_token("y" * 43)}
    response = sign_out(
        world,
        env,
        "POST",
        cookies={COOKIE: SID},
        form={"csrf_token": token[form]} if form else {},
        headers=headers,
    )
    assert response.status == 403
    assert b"cross_site_sign_out" in response.body
    stored = world.read_session(env, key)
    assert stored is not None and stored.record.ended is None
    assert world.calls == []


def test_sign_out_other_method_is_405(world: World, env: FlowEnv) -> None:
    assert sign_out(world, env, "DELETE").status == 405


def test_parse_form() -> None:
    assert parse_form(b"csrf_token=abc&x=1") == {"csrf_token": "abc", "x": "1"}
    assert parse_form(b"a=" + b"x" * MAX_FORM_BYTES) == {}
    assert parse_form(b"\xff\xfe=1") == {}


# Challenge ----------------------------------------------------------------------------------


def test_browser_get_is_redirected_to_sign_in_and_back(env: FlowEnv) -> None:
    response = challenge(env.config, request("GET", "/admin/x", "tab=2&q=a b"), None)
    assert response.status == 302
    target = location(response)
    assert target == "/sign-in?return_to=" + quote("/admin/x?tab=2&q=a b", safe="")
    assert parse_qs(urlsplit(target).query)["return_to"] == ["/admin/x?tab=2&q=a b"]
    assert header_values(response, "Set-Cookie") == []


@pytest.mark.parametrize(
    ("path", "query", "back_to"),
    [
        ("//admin/x", "tab=2", "/admin/x?tab=2"),
        ("///admin", "", "/admin"),
        ("/\\admin", "", "/"),  # no spelling of it that a browser reads as this site
        ("//admin/../x/", "", "/x/"),
        ("/admin", "q=%0D%0A", "/admin?q=%0D%0A"),
        ("/admin", "q=\r\nSet-Cookie:x", "/admin"),
        ("/admin", "q=" + "x" * 3000, "/admin"),  # longer than /sign-in takes
    ],
)
def test_the_return_to_of_a_challenge_is_one_sign_in_accepts(
    env: FlowEnv, path: str, query: str, back_to: str
) -> None:
    """A protected path spelt oddly (``//admin``) sends the browser to a sign-in that
    comes back to its normal form: /sign-in refuses ``return_to=//admin`` as another
    site, so passing it on would end on a 400."""
    response = challenge(env.config, request("GET", path, query), None)
    (return_to,) = parse_qs(urlsplit(location(response)).query)["return_to"]
    assert safe_return_to(return_to) is not None
    assert return_to == back_to


@pytest.mark.parametrize(
    "headers",
    [
        {"accept": "application/json"},
        {"sec-fetch-mode": "cors", "accept": "text/html"},
        {"x-requested-with": "XMLHttpRequest"},
        {"accept": "*/*"},
    ],
)
def test_api_request_gets_401_json(env: FlowEnv, headers: dict[str, str]) -> None:
    response = challenge(env.config, request("GET", "/admin/x", headers=headers), None)
    assert response.status == 401
    assert header_values(response, "Location") == []
    assert header_values(response, "Content-Type") == ["application/json"]
    assert json.loads(response.body)["error"] == "not_signed_in"
    (www,) = header_values(response, "WWW-Authenticate")
    assert www.startswith("Bearer ")
    assert 'error="invalid_token"' in www


def test_browser_post_gets_401_not_a_redirect(env: FlowEnv) -> None:
    response = challenge(env.config, request("POST", "/admin/x"), None)
    assert response.status == 401
    assert header_values(response, "Location") == []
    assert "text/html" in header_values(response, "Content-Type")[0]
    assert b"/sign-in?return_to=" in response.body  # a link to sign in instead


def test_ended_session_clears_the_cookie_and_says_why(env: FlowEnv) -> None:
    api = challenge(env.config, request("GET", "/admin", headers=API), EndReason.REFRESH_REJECTED)
    assert 'error_description="refresh_rejected"' in header_values(api, "WWW-Authenticate")[0]
    assert set_cookies(api)[COOKIE] == ("", True)
    browser = challenge(env.config, request("GET", "/admin"), EndReason.EXPIRED)
    assert browser.status == 302
    assert set_cookies(browser)[COOKIE] == ("", True)


def test_sign_in_forwards_only_allow_listed_step_up_params(world: World, env: FlowEnv) -> None:
    query = {
        "return_to": "/admin",
        "prompt": "login",
        "max_age": "300",
        "acr_values": "urn:acr:mfa 2",
        "redirect_uri": "https://evil.example/cb",
        "scope": "openid admin",
        "login_hint": "alice",
    }
    response = world.run(route_flow(env, Route.SIGN_IN, request(query=query)))
    q = parse_qs(urlsplit(location(response)).query)
    assert (q["prompt"], q["max_age"], q["acr_values"]) == (["login"], ["300"], ["urn:acr:mfa 2"])
    assert q["redirect_uri"] == [env.config.after_sign_in_url]
    assert q["scope"] == [" ".join(env.config.scopes)]
    assert "login_hint" not in q


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("prompt", "login&scope=x"),
        ("prompt", "always"),
        ("max_age", "-1"),
        ("max_age", "ten"),
        ("max_age", "1" * 12),
        ("acr_values", "mfa\\x"),
        ("acr_values", "mfa  2"),
        ("acr_values", "<script>"),
    ],
)
def test_sign_in_drops_malformed_step_up_values(
    world: World, env: FlowEnv, name: str, value: str
) -> None:
    response = world.run(route_flow(env, Route.SIGN_IN, request(query={name: value})))
    assert response.status == 302
    assert name not in parse_qs(urlsplit(location(response)).query)
    (logged,) = [log for log in world.logs if log.event == "sign_in.params_dropped"]
    assert name in logged.message and value not in logged.message


def test_sign_in_acr_values_allow_list_drops_others(world: World) -> None:
    env = make_env(make_config(sign_in_acr_values=("urn:mfa", "urn:hwk")))
    for asked, forwarded in [
        ("urn:mfa", ["urn:mfa"]),
        ("urn:hwk urn:mfa", ["urn:hwk urn:mfa"]),
        ("urn:mfa urn:weak", None),
        ("urn:weak", None),
    ]:
        world.logs.clear()
        response = world.run(route_flow(env, Route.SIGN_IN, request(query={"acr_values": asked})))
        assert response.status == 302
        assert parse_qs(urlsplit(location(response)).query).get("acr_values") == forwarded
        dropped = [log for log in world.logs if log.event == "sign_in.params_dropped"]
        assert len(dropped) == (forwarded is None)


# Sign-out state: sent fresh, bound to the browser, checked on the way back ---------------

SIGN_OUT_STATE_COOKIE = COOKIE + ".so"


def test_every_end_session_request_carries_a_fresh_state_bound_by_a_cookie(
    world: World, env: FlowEnv
) -> None:
    states = []
    for _ in range(2):
        response = confirmed_sign_out(world, env)
        (state,) = parse_qs(urlsplit(location(response)).query)["state"]
        cookie_value, _ = set_cookies(response)[SIGN_OUT_STATE_COOKIE]
        assert cookie_value == state and len(state) == 43
        states.append(state)
    assert states[0] != states[1]
    so_cookie = next(c for c in header_values(response, "Set-Cookie") if ".so=" in c)
    assert "HttpOnly" in so_cookie and "SameSite=Lax" in so_cookie
    assert f"Max-Age={int(env.config.sign_in_timeout)}" in so_cookie


def test_no_state_cookie_when_the_provider_has_no_end_session_endpoint(world: World) -> None:
    env = make_env(metadata=make_metadata(end_session_endpoint=None))
    response = confirmed_sign_out(world, env)
    assert location(response) == APP_URL + "/bye"
    assert SIGN_OUT_STATE_COOKIE not in set_cookies(response)


def test_no_state_cookie_when_after_sign_out_url_is_another_site(world: World) -> None:
    env = make_env(make_config(after_sign_out_url="https://www.example.test/bye"))
    response = confirmed_sign_out(world, env)
    assert "state" in parse_qs(urlsplit(location(response)).query)  # sent all the same
    assert SIGN_OUT_STATE_COOKIE not in set_cookies(response)


def back_from_sign_out(world: World, env: FlowEnv, query: str, cookie: str) -> Response:
    back = request("GET", "/bye", query, cookies={SIGN_OUT_STATE_COOKIE: cookie})
    return world.run(route_flow(env, Route.SIGNED_OUT, back))


@pytest.mark.parametrize(
    ("query", "cookie", "mismatch"),
    [
        ("state=abc", "abc", False),
        ("state=abd", "abc", True),  # another sign-out's state
        ("state=", "abc", True),
        ("state=abc&next=https://evil.example", "abc", False),
        ("state=abc", "", True),
    ],
)
def test_the_return_goes_on_to_after_sign_out_url_and_logs_a_mismatch(
    world: World, env: FlowEnv, query: str, cookie: str, mismatch: bool
) -> None:
    response = back_from_sign_out(world, env, query, cookie)
    assert response.status == 303
    assert location(response) == APP_URL + "/bye"  # configured: no open redirect, no state
    assert set_cookies(response)[SIGN_OUT_STATE_COOKIE] == ("", True)
    logged = [log for log in world.logs if log.event == "sign_out.state_mismatch"]
    assert len(logged) == mismatch
    assert all("abc" not in log.message for log in logged)
    assert world.calls == []  # the provider is not asked


def test_the_router_sends_only_a_stated_return_with_the_cookie_to_the_check() -> None:
    router = Router(make_config())
    cookie = f"{SIGN_OUT_STATE_COOKIE}=abc"
    assert router.is_sign_out_return("/bye", "state=abc", cookie)
    assert not router.is_sign_out_return("/bye", "", cookie)  # no state: the app's page
    assert not router.is_sign_out_return("/bye", "state=abc", None)
    assert not router.is_sign_out_return("/bye", "state=abc", f"{COOKIE}=x")
    assert not router.is_sign_out_return("/other", "state=abc", cookie)
    elsewhere = Router(make_config(after_sign_out_url="https://www.example.test/bye"))
    assert elsewhere.sign_out_return_path is None
    assert not elsewhere.is_sign_out_return("/bye", "state=abc", cookie)
