"""A wrong client secret, found at the first sign-in on a real server: the token endpoint
answers ``invalid_client`` after the user signed in at the provider. That is the
operator's fault: a 502 page that neither blames the user nor offers "sign in again", and
an ERROR log line that names the event, the client id and the authentication method —
never the secret that was sent."""

from __future__ import annotations

import time

import httpx

from tests.e2e.flows import BROWSER, assert_clean_error
from tests.e2e.stacks import Stacks
from tests.support.idp import IdP

LOG_WAIT = 10.0


def test_invalid_client_at_the_callback_is_an_operator_error(
    stacks: Stacks, adapter: str, idp: IdP
) -> None:
    server = stacks.get(adapter, "wrong_secret")
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        started = client.get("/sign-in", params={"return_to": "/private"}, headers=BROWSER)
        assert started.status_code == 302, started.text
        with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
            callback = idp.login(browser, started.headers["location"])
        assert callback.startswith(f"{server.url}/callback?")
        answer = client.get(callback[len(server.url) :], headers=BROWSER)
    assert_clean_error(answer, 502, "client_rejected", api=False)
    page = answer.text.lower()
    assert "sign in again" not in page and "try again" not in page, answer.text
    assert "not-the-client-secret" not in answer.text
    assert idp.conf_client_id not in answer.text  # configuration advice is for the log

    deadline = time.monotonic() + LOG_WAIT
    while "config.client_rejected" not in server.log():
        assert time.monotonic() < deadline, f"no config.client_rejected log:\n{server.log()}"
        time.sleep(0.1)
    line = next(row for row in server.log().splitlines() if "config.client_rejected" in row)
    # The level (ERROR) is checked in tests/core/test_events.py; the servers here print
    # through logging's last-resort handler, which shows only the message.
    assert idp.conf_client_id in line and "client_secret_basic" in line, line
    assert "invalid_client" in line, line
    assert "not-the-client-secret" not in server.log()
