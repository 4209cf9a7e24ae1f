"""Pushed authorization requests (core/par.py) on the sign-in route: when the request is
pushed and when not, what the push carries and how it is authenticated, and the pages for
each way the PAR endpoint can fail. The real sign-ins are tests/tokens/test_par.py and
tests/thunderid/test_par.py."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from thunderid_mw.core import effects as fx
from thunderid_mw.core import events
from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.dpop import thumbprint
from thunderid_mw.core.errors import ConfigError
from thunderid_mw.core.handler import route_flow
from thunderid_mw.core.routing import Route

from .driver import (
    AUTHORIZE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    TOKEN_URL,
    World,
    json_result,
    make_config,
    make_env,
    make_metadata,
)
from .test_handler import Browser, callback, idp_issues_tokens, location, request, sign_in

PAR_URL = ISSUER + "/oauth2/par"
REQUEST_URI = "urn:ietf:params:oauth:request_uri:abc"


def pushing_env(mode: str = "always", *, required: bool = False, **config: Any) -> Any:
    return make_env(
        make_config(pushed_authorization_requests=mode, **config),
        make_metadata(
            pushed_authorization_request_endpoint=PAR_URL,
            require_pushed_authorization_requests=required,
        ),
    )


def par_answers(world: World, status: int = 201, doc: Any = None) -> None:
    body = {"request_uri": REQUEST_URI, "expires_in": 60} if doc is None else doc
    world.http[PAR_URL] = lambda call: json_result(status, body)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def pushes_of(world: World) -> list[fx.HttpCall]:
    return [call for call in world.calls if call.url == PAR_URL]


@pytest.mark.parametrize(("mode", "required"), [("always", False), ("auto", True)])
def test_a_pushed_sign_in_sends_the_browser_with_only_client_id_and_request_uri(
    world: World, mode: str, required: bool
) -> None:
    par_answers(world)
    env = pushing_env(mode, required=required)
    response = world.run(
        route_flow(
            env,
            Route.SIGN_IN,
            request(query={"return_to": "/next", "prompt": "login", "max_age": "60"}),
        )
    )
    assert response.status == 302
    url = location(response)
    assert url.startswith(AUTHORIZE_URL + "?")
    assert query_of(url) == {"client_id": [CLIENT_ID], "request_uri": [REQUEST_URI]}
    (push,) = pushes_of(world)
    assert push.method == "POST"
    form = dict(push.form or {})
    for name in ("state", "nonce", "code_challenge", "redirect_uri", "scope"):
        assert form[name], name
    assert form["code_challenge_method"] == "S256"
    assert form["response_type"] == "code"
    assert (form["prompt"], form["max_age"]) == ("login", "60")  # forwarded step-up values
    # client_secret_basic, exactly as on the token endpoint.
    basic = base64.b64encode(f"{CLIENT_ID}:{quote(CLIENT_SECRET, safe='')}".encode())
    assert push.headers["Authorization"] == "Basic " + basic.decode()
    assert "client_secret" not in form


def test_the_push_carries_the_state_the_transaction_cookie_keeps(world: World) -> None:
    par_answers(world)
    env = pushing_env()
    browser = Browser()
    sign_in(world, env, browser)
    (push,) = pushes_of(world)
    (cookie_name,) = browser.tx_cookies()
    assert cookie_name.endswith("." + (push.form or {})["state"][:16])


@pytest.mark.parametrize(
    ("mode", "required"), [("never", True), ("auto", False)], ids=["never", "auto-not-required"]
)
def test_an_unpushed_sign_in_carries_the_whole_request(
    world: World, mode: str, required: bool
) -> None:
    par_answers(world)
    browser = Browser()
    response = sign_in(world, pushing_env(mode, required=required), browser)
    assert pushes_of(world) == []
    q = query_of(location(response))
    assert "request_uri" not in q and q["code_challenge"] and q["state"]


@pytest.mark.parametrize(
    ("method", "in_form", "assertion"),
    [
        ("client_secret_post", {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, False),
        ("none", {"client_id": CLIENT_ID}, False),
        ("private_key_jwt", {"client_id": CLIENT_ID}, True),
    ],
)
def test_the_push_authenticates_as_the_token_endpoint_does(
    world: World, method: str, in_form: dict[str, str], assertion: bool
) -> None:
    par_answers(world)
    extra: dict[str, Any] = {"token_endpoint_auth_method": method}
    if method == "none":
        extra["client_secret"] = None
    if method == "private_key_jwt":
        extra["client_private_key"] = "a key (the driver signs; the core never reads it)"
    sign_in(world, pushing_env(**extra), Browser())
    (push,) = pushes_of(world)
    form = dict(push.form or {})
    assert {k: form[k] for k in in_form} == in_form
    assert push.client_assertion is assertion
    assert "Authorization" not in push.headers
    if method != "client_secret_post":
        assert "client_secret" not in form


def test_with_dpop_the_push_binds_the_code_to_the_key_the_code_exchange_proves(
    world: World,
) -> None:
    par_answers(world)
    env = pushing_env(dpop=True)
    browser = Browser()
    sign_in(world, env, browser)
    (push,) = pushes_of(world)
    form = dict(push.form or {})
    (key,) = world.dpop_keys  # made at sign-in, kept in the sealed transaction
    assert form["dpop_jkt"] == thumbprint(key)
    assert key not in str(browser.jar)  # sealed, never in clear text
    idp_issues_tokens(world, form["nonce"])
    done = callback(world, env, browser, {"code": "c", "state": form["state"], "iss": ISSUER})
    assert done.status == 302, done.body
    (exchange,) = [call for call in world.calls if call.url == TOKEN_URL]
    assert exchange.dpop_key == key and world.dpop_keys == [key]  # no second key


def test_with_dpop_an_unpushed_sign_in_makes_its_key_at_the_callback(world: World) -> None:
    env = pushing_env("never", dpop=True)
    browser = Browser()
    started = sign_in(world, env, browser)
    q = query_of(location(started))
    assert "dpop_jkt" not in q and world.dpop_keys == []
    idp_issues_tokens(world, q["nonce"][0])
    callback(world, env, browser, {"code": "c", "state": q["state"][0], "iss": ISSUER})
    (exchange,) = [call for call in world.calls if call.url == TOKEN_URL]
    assert world.dpop_keys == [exchange.dpop_key]


def page_of(response: Any) -> str:
    return bytes(response.body).decode()


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client"])
def test_a_refused_client_is_a_502_blaming_no_user_and_logged_for_the_operator(
    world: World, error: str
) -> None:
    par_answers(world, 401 if error == "invalid_client" else 400, {"error": error})
    response = sign_in(world, pushing_env(), Browser())
    assert response.status == 502
    body = page_of(response)
    assert "client_rejected" in body and "configuration problem" in body
    assert "Sign in again" not in body
    assert [log.event for log in world.logs] == [events.CONFIG_CLIENT_REJECTED]
    assert "pushed authorization request endpoint" in world.logs[0].message


@pytest.mark.parametrize("error", ["invalid_request", "invalid_scope", "invalid_redirect_uri"])
def test_a_refused_request_is_a_502_and_a_par_rejected_event(world: World, error: str) -> None:
    par_answers(world, 400, {"error": error, "error_description": "nope"})
    response = sign_in(world, pushing_env(), Browser())
    assert response.status == 502
    body = page_of(response)
    assert "par_rejected" in body and "Sign in again" not in body
    (log,) = world.logs
    assert log.event == events.SIGN_IN_PAR_REJECTED
    assert error in log.message and "nope" in log.message


@pytest.mark.parametrize(
    "answer",
    [
        fx.HttpResult(503, b""),
        fx.HttpResult(500, b'{"error":"server_error"}'),
        fx.HttpResult(429, b""),
        fx.HttpResult(201, b"not json"),
        fx.HttpResult(201, b'{"expires_in": 60}'),
        fx.HttpResult(302, b"{}"),
        fx.HttpFailure("connection refused"),
        fx.HttpFailure("read timeout", sent=True),
    ],
    ids=["503", "500", "429", "not-json", "no-request_uri", "302", "unreachable", "timeout"],
)
def test_a_provider_that_cannot_take_the_push_is_the_provider_unavailable_page(
    world: World, answer: fx.HttpResult | fx.HttpFailure
) -> None:
    world.http[PAR_URL] = lambda call: answer
    response = sign_in(world, pushing_env(), Browser())
    assert response.status == 502
    assert "provider_error" in page_of(response)
    assert [log.event for log in world.logs] == [events.PROVIDER_UNREACHABLE]
    assert "pushed authorization request endpoint" in world.logs[0].message


@pytest.mark.parametrize(("mode", "required"), [("always", False), ("auto", True)])
def test_pushing_at_a_provider_without_a_par_endpoint_is_a_502_naming_the_cause_in_the_log(
    world: World, mode: str, required: bool
) -> None:
    env = make_env(
        make_config(pushed_authorization_requests=mode),
        make_metadata(require_pushed_authorization_requests=required),
    )
    browser = Browser()
    response = sign_in(world, env, browser)
    assert response.status == 502
    body = page_of(response)
    assert "par_unavailable" in body and "try again" not in body.lower()
    assert browser.tx_cookies() == {}  # no sign-in was started
    (log,) = world.logs
    assert log.event == events.CONFIG_PAR_UNAVAILABLE
    assert "pushed_authorization_request_endpoint" in log.message
    assert world.calls == []


def test_an_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="pushed_authorization_requests must be one of"):
        make_config(pushed_authorization_requests="sometimes")
    assert isinstance(make_config(), ThunderIDConfig)
