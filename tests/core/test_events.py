"""Failures are logged with a stable event name and safe fields, and the page says what
the user can do (core/events.py, the handler's sign-in answers)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from thunderid_mw._logging import log_event
from thunderid_mw.core import effects as fx
from thunderid_mw.core import events
from thunderid_mw.core.env import FlowEnv
from thunderid_mw.core.errors import StoreUnavailable

from .driver import ISSUER, TOKEN_URL, World, json_result, make_config, make_env
from .test_handler import Browser, callback, idp_issues_tokens, location, sign_in


def started_state(world: World, env: FlowEnv, browser: Browser) -> dict[str, str]:
    q = parse_qs(urlsplit(location(sign_in(world, env, browser))).query)
    return {"state": q["state"][0], "nonce": q["nonce"][0]}


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client"])
def test_client_rejected_at_callback_is_a_502_that_blames_no_user(world: World, error: str) -> None:
    env = make_env(
        make_config(client_secret="wrong-secret", token_endpoint_auth_method="client_secret_post")
    )
    browser = Browser()
    tx = started_state(world, env, browser)
    world.http[TOKEN_URL] = lambda _: json_result(401, {"error": error})
    response = callback(world, env, browser, {"code": "c", "state": tx["state"], "iss": ISSUER})
    assert response.status == 502
    body = response.body.decode()
    assert "client_rejected" in body
    assert "sign in again" not in body.lower() and "Sign in again" not in body
    (log,) = [log for log in world.logs if log.event == events.CONFIG_CLIENT_REJECTED]
    assert log.level == logging.ERROR
    assert dict(log.fields) == {
        "client_id": env.config.client_id,
        "auth_method": "client_secret_post",
    }
    assert error in log.message
    assert "wrong-secret" not in repr(world.logs)


def test_rejected_code_is_logged_and_offers_a_new_sign_in(world: World, env: FlowEnv) -> None:
    browser = Browser()
    tx = started_state(world, env, browser)
    world.http[TOKEN_URL] = lambda _: json_result(400, {"error": "invalid_grant"})
    response = callback(
        world, env, browser, {"code": "secret-code", "state": tx["state"], "iss": ISSUER}
    )
    assert response.status == 400
    assert b"Sign in again" in response.body
    logged = [log.event for log in world.logs]
    assert events.SIGN_IN_CODE_REJECTED in logged and events.SIGN_IN_FAILED in logged
    assert "secret-code" not in repr(world.logs)


def test_store_failure_at_callback_says_sign_in_again(world: World, env: FlowEnv) -> None:
    browser = Browser()
    tx = started_state(world, env, browser)
    idp_issues_tokens(world, tx["nonce"])

    def down(_: fx.Effect) -> None:
        raise StoreUnavailable("redis://store:6379 refused the connection")

    world.hook(fx.Save, down)
    response = callback(world, env, browser, {"code": "c", "state": tx["state"], "iss": ISSUER})
    assert response.status == 503
    assert b"sign in again" in response.body.lower()
    assert b"retry shortly" not in response.body.lower()
    assert events.STORE_UNAVAILABLE in [log.event for log in world.logs]


def test_session_tag_is_short_stable_and_not_the_id(env: FlowEnv) -> None:
    tag = env.keys.session_tag("the-session-id")
    assert tag == env.keys.session_tag("the-session-id")
    assert tag != env.keys.session_tag("another-session-id")
    assert len(tag) == 10 and "the-session-id" not in tag


def test_log_lines_carry_the_event_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=events.LOGGER_NAME):
        log_event(logging.ERROR, events.STORE_UNAVAILABLE, "redis down", session="abc123")
    (record,) = caplog.records
    assert record.name == "thunderid_mw"
    assert record.getMessage() == "store.unavailable: redis down (session=abc123)"
    assert record.event == "store.unavailable"  # type: ignore[attr-defined]
    assert record.event_fields == {"session": "abc123"}  # type: ignore[attr-defined]


def test_every_event_name_is_dotted_and_unique() -> None:
    assert len(set(events.ALL_EVENTS)) == len(events.ALL_EVENTS)
    for name in events.ALL_EVENTS:
        area, _, what = name.partition(".")
        assert area and what and name == name.lower()
