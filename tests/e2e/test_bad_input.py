"""Bad input, sent for real to gunicorn (WSGI) and uvicorn (ASGI): each gets a clear 4xx/5xx
answer naming the problem (an HTML page for a browser, JSON for code), never a traceback or
a 500, and a separately signed-in session (Bob's) keeps working after each."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.flows import (
    API,
    BROWSER,
    COOKIE,
    assert_clean_error,
    assert_signed_in,
    assert_signed_out,
    begin_sign_in,
    idp_callback,
    leave_idp,
    relative,
    with_query,
)
from tests.e2e.stacks import Stacks
from tests.support.idp import IdP
from tests.support.servers import Server, sign_in

KINDS = {"browser": BROWSER, "api": API}
ALL_KINDS = pytest.mark.parametrize("kind", KINDS.keys())
DISCOVERY_RECOVERY_WAIT = 30.0
LOG_WAIT = 10.0


@ALL_KINDS
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"code": "abc", "state": "S" * 43, "iss": "ISSUER"}, "unknown_state"),
        ({"code": "abc"}, "missing_state"),
    ],
    ids=["unknown-state", "no-state"],
)
def test_callback_without_a_sign_in_in_progress(
    client: httpx.Client,
    idp: IdP,
    bystander: httpx.Client,
    kind: str,
    query: dict[str, str],
    code: str,
) -> None:
    begin_sign_in(client)  # a sign-in in progress, but not the one answered
    params = {k: idp.issuer if v == "ISSUER" else v for k, v in query.items()}
    response = client.get("/callback", params=params, headers=KINDS[kind])
    assert_clean_error(response, 400, code, api=kind == "api")
    assert COOKIE not in client.cookies
    assert_signed_in(bystander, "user-bob")


def test_expired_state(stacks: Stacks, adapter: str, idp: IdP, bystander: httpx.Client) -> None:
    """THUNDERID_SIGN_IN_TIMEOUT=1: a callback that comes later, even with its transaction
    cookie, is refused as expired."""
    server = stacks.get(adapter, "short_sign_in")
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        started = begin_sign_in(client)
        began = time.monotonic()
        callback = idp_callback(idp, started.authorize_url)
        time.sleep(max(0.0, 1.5 - (time.monotonic() - began)))
        response = httpx.get(
            server.url + callback,
            headers={**BROWSER, "Cookie": f"{started.tx_cookie.name}={started.tx_cookie.value}"},
            timeout=30.0,
        )
    assert_clean_error(response, 400, "expired_state", api=False)
    assert "expired" in response.text
    assert_signed_in(bystander, "user-bob")


def test_replayed_callback_url(
    app: Server, client: httpx.Client, idp: IdP, bystander: httpx.Client
) -> None:
    started = begin_sign_in(client)
    callback = idp_callback(idp, started.authorize_url)
    first = client.get(callback, headers=BROWSER)
    assert first.status_code == 302, first.text
    assert_signed_in(client, "user-alice")

    again = client.get(callback, headers=BROWSER)
    assert_clean_error(again, 400, "unknown_state", api=False)

    # An attacker who also kept the transaction cookie replays the code itself: the IdP
    # refuses a used code, and that is a clear 400 too.
    stolen = f"{started.tx_cookie.name}={started.tx_cookie.value}"
    replay = httpx.get(app.url + callback, headers={**API, "Cookie": stolen}, timeout=30.0)
    assert_clean_error(replay, 400, "code_rejected", api=True)
    assert "set-cookie" not in replay.headers or COOKIE + "=" not in replay.headers["set-cookie"]
    assert_signed_in(bystander, "user-bob")


@ALL_KINDS
@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("access_denied", 403, "sign_in_cancelled"),
        ("temporarily_unavailable", 400, "provider_error"),
    ],
)
def test_error_from_the_idp(
    client: httpx.Client,
    idp: IdP,
    bystander: httpx.Client,
    kind: str,
    error: str,
    status: int,
    code: str,
) -> None:
    started = begin_sign_in(client)
    response = client.get(
        "/callback",
        params={
            "error": error,
            "error_description": "The user said no",
            "state": started.state,
            "iss": idp.issuer,
        },
        headers=KINDS[kind],
    )
    assert_clean_error(response, status, code, api=kind == "api")
    assert error in response.text and "The user said no" in response.text
    assert COOKIE not in client.cookies
    assert_signed_in(bystander, "user-bob")


def test_real_error_from_the_idp(client: httpx.Client, idp: IdP, bystander: httpx.Client) -> None:
    """prompt=none without an IdP session: the IdP itself answers error=login_required."""
    started = begin_sign_in(client)
    with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
        callback = leave_idp(idp, browser, started.authorize_url + "&prompt=none")
    assert "error=login_required" in callback
    response = client.get(relative(callback), headers=BROWSER)
    assert_clean_error(response, 400, "provider_error", api=False)
    assert "login_required" in response.text
    assert_signed_in(bystander, "user-bob")


def test_callback_without_code(client: httpx.Client, idp: IdP, bystander: httpx.Client) -> None:
    started = begin_sign_in(client)
    response = client.get(
        "/callback", params={"state": started.state, "iss": idp.issuer}, headers=BROWSER
    )
    assert_clean_error(response, 400, "missing_code", api=False)
    assert_signed_in(bystander, "user-bob")


@pytest.mark.parametrize(
    ("change", "code"),
    [("https://evil.example", "issuer_mismatch"), (None, "issuer_missing")],
    ids=["other-iss", "no-iss"],
)
def test_issuer_of_the_authorization_response(
    client: httpx.Client, idp: IdP, bystander: httpx.Client, change: str | None, code: str
) -> None:
    """RFC 9207: a real callback URL with its iss changed or removed is refused."""
    started = begin_sign_in(client)
    callback = idp_callback(idp, started.authorize_url)
    response = client.get(with_query(callback, iss=change), headers=BROWSER)
    assert_clean_error(response, 400, code, api=False)
    assert COOKIE not in client.cookies
    assert_signed_in(bystander, "user-bob")


def _flip(value: str) -> str:
    middle = len(value) // 2
    return value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]


@pytest.mark.parametrize("forgery", ["tampered", "garbage", "8kb"])
def test_bad_session_cookie_is_signed_out(
    app: Server, idp: IdP, bystander: httpx.Client, forgery: str
) -> None:
    alice = sign_in(app.url, idp, "alice")
    try:
        real = alice.cookies[COOKIE]
        value = {
            "tampered": _flip(real),
            "garbage": "not-a-session%00<script>'\"",
            "8kb": "A" * 8100,  # the whole Cookie line stays under gunicorn's 8190-byte limit
        }[forgery]
        assert_signed_out(app.url, value)
        assert_signed_in(alice, "user-alice")  # the real session was not touched
    finally:
        alice.close()
    assert_signed_in(bystander, "user-bob")


@ALL_KINDS
@pytest.mark.parametrize(
    "target", ["https://elsewhere.example/", "//elsewhere.example", "/\\elsewhere.example"]
)
def test_return_to_must_be_local(
    client: httpx.Client, bystander: httpx.Client, kind: str, target: str
) -> None:
    response = client.get("/sign-in", params={"return_to": target}, headers=KINDS[kind])
    assert_clean_error(response, 400, "bad_return_to", api=kind == "api")
    assert "return_to" in response.text
    assert "location" not in response.headers
    assert_signed_in(bystander, "user-bob")


@ALL_KINDS
def test_idp_unreachable(stacks: Stacks, adapter: str, bystander: httpx.Client, kind: str) -> None:
    """The IdP's address is a closed port: the server starts and serves public pages;
    sign-in is a clear 502."""
    server = stacks.get(adapter, "idp_unreachable")
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        public = client.get("/public")
        assert public.status_code == 200 and "signed_in=False" in public.text
        private = client.get("/private", headers=BROWSER)
        assert private.status_code == 302
        assert private.headers["location"] == "/sign-in?return_to=%2Fprivate"
        for path in ("/sign-in?return_to=/private", "/callback?code=abc&state=xyz"):
            response = client.get(path, headers=KINDS[kind])
            assert_clean_error(response, 502, "provider_unavailable", api=kind == "api")
    assert_signed_in(bystander, "user-bob")


@ALL_KINDS
@pytest.mark.parametrize(
    ("variant", "hint"),
    [("wrong_scheme", "Use http:// in the URL"), ("wrong_issuer", "THUNDERID_ISSUER")],
)
def test_a_provider_other_than_configured_is_a_site_fault_not_a_retry(
    stacks: Stacks, adapter: str, kind: str, variant: str, hint: str
) -> None:
    """https:// for the plain-http IdP, or the IdP under another name than its issuer:
    retrying cannot help, so the page says the site is misconfigured (not "try again
    later") and the log says what to change."""
    server = stacks.get(adapter, variant)
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        response = client.get("/sign-in?return_to=/private", headers=KINDS[kind])
    assert_clean_error(response, 502, "provider_misconfigured", api=kind == "api")
    assert "configuration problem" in response.text
    assert "try again" not in response.text.lower() and "retry" not in response.text.lower()
    deadline = time.monotonic() + LOG_WAIT
    while not (lines := [x for x in server.log().splitlines() if "config.provider_mismatch" in x]):
        assert time.monotonic() < deadline, f"no config.provider_mismatch:\n{server.log()}"
        time.sleep(0.1)
    assert hint in lines[0], lines[0]


def test_discovery_broken_then_repaired(
    stacks: Stacks, adapter: str, idp_reset: IdP, bystander: httpx.Client
) -> None:
    """Discovery answers 500 before the server's first sign-in: 502; once it is back,
    sign-in works without a restart."""
    server = stacks.get(adapter, "fresh")
    idp_reset.fail("discovery", 500, times=-1)
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            for kind in ("browser", "api", "browser"):  # both gunicorn workers, if need be
                response = client.get("/sign-in?return_to=/private", headers=KINDS[kind])
                assert_clean_error(response, 502, "provider_unavailable", api=kind == "api")
            assert client.get("/public").status_code == 200
    finally:
        idp_reset.reset()
    assert_signed_in(bystander, "user-bob")

    # A failed discovery is retried after a short back-off: poll, bounded.
    deadline = time.monotonic() + DISCOVERY_RECOVERY_WAIT
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        while True:
            response = client.get("/sign-in?return_to=/private", headers=BROWSER)
            if response.status_code == 302:
                break
            assert_clean_error(response, 502, "provider_unavailable", api=False)
            assert time.monotonic() < deadline, "sign-in did not recover after discovery did"
            time.sleep(0.25)
        callback = idp_callback(idp_reset, response.headers["location"])
        done = client.get(callback, headers=BROWSER)
        assert done.status_code == 302, done.text
        assert_signed_in(client, "user-alice")


@ALL_KINDS
def test_token_endpoint_failing_at_callback(
    client: httpx.Client, idp_reset: IdP, bystander: httpx.Client, kind: str
) -> None:
    started = begin_sign_in(client)
    callback = idp_callback(idp_reset, started.authorize_url)
    idp_reset.fail("token", 503)
    response = client.get(callback, headers=KINDS[kind])
    assert_clean_error(response, 502, "provider_error", api=kind == "api")
    assert idp_reset.token_counts("authorization_code")["errors"] >= 1
    assert COOKIE not in client.cookies
    assert_signed_in(bystander, "user-bob")

    # The user simply signs in again.
    started = begin_sign_in(client)
    done = client.get(idp_callback(idp_reset, started.authorize_url), headers=BROWSER)
    assert done.status_code == 302, done.text
    assert_signed_in(client, "user-alice")


def test_error_description_is_not_reflected_unescaped(
    client: httpx.Client, idp: IdP, bystander: httpx.Client
) -> None:
    """An error description from the query ends up in the page HTML-escaped."""
    started = begin_sign_in(client)
    evil = "<script>alert(1)</script>"
    response = client.get(
        "/callback",
        params={"error": "x", "error_description": evil, "state": started.state, "iss": idp.issuer},
        headers=BROWSER,
    )
    assert_clean_error(response, 400, "provider_error", api=False)
    assert evil not in response.text and "&lt;script&gt;" in response.text
    assert_signed_in(bystander, "user-bob")


@pytest.mark.parametrize("raw", ["/%E2%88%95", "/%80", "/%C0%AF", "/caf%C3%A9?q=%C3%BC"])
def test_a_crafted_return_to_neither_signs_out_nor_fails(
    client: httpx.Client, idp: IdP, raw: str
) -> None:
    """A non-ASCII return_to (the sign-in link an attacker hands a signed-in victim) must
    not leave the victim signed out: the callback answers a header-safe redirect and the
    new session cookie, and ends the old session only then."""
    first = begin_sign_in(client, return_to="/private")
    client.get(idp_callback(idp, first.authorize_url))
    assert_signed_in(client, "user-alice")
    old_cookie = client.cookies[COOKIE]
    response = client.get(f"/sign-in?return_to={raw}", headers=BROWSER)
    assert response.status_code == 302, response.text
    back = client.get(idp_callback(idp, response.headers["location"]))
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.isascii() and location.startswith("/"), location
    assert client.cookies[COOKIE] != old_cookie
    assert_signed_in(client, "user-alice")


@ALL_KINDS
def test_sign_in_with_too_many_query_fields(
    client: httpx.Client, bystander: httpx.Client, kind: str
) -> None:
    query = "&".join(f"f{i}=x" for i in range(100)) + "&return_to=/private"
    response = client.get("/sign-in?" + query, headers=KINDS[kind])
    assert_clean_error(response, 400, "too_many_fields", api=kind == "api")
    assert_signed_in(bystander, "user-bob")


def test_cookie_names_from_the_request_are_never_echoed(client: httpx.Client) -> None:
    """Planted cookies that share our transaction prefix are not answered with a
    ``Set-Cookie`` of the attacker's chosen name."""
    planted = {
        f"{COOKIE}.tx.evil;Domain=x": "1",
        f"{COOKIE}.tx.AAAAAAAAAAAAAAAA": "garbage",
        f"{COOKIE}.tx.\u00e9\u00e9": "1",
    }
    header = "; ".join(f"{name}={value}" for name, value in planted.items())
    response = client.get(
        "/sign-in",
        params={"return_to": "/private"},
        headers={
            **{k.encode(): v.encode() for k, v in BROWSER.items()},
            b"Cookie": header.encode(),
        },
    )
    assert response.status_code == 302
    names = [c.split("=", 1)[0] for c in response.headers.get_list("set-cookie")]
    assert f"{COOKIE}.tx.AAAAAAAAAAAAAAAA" in names  # ours by shape: cleaned up
    for name in names:
        assert name.startswith(f"{COOKIE}.tx."), name
        suffix = name[len(f"{COOKIE}.tx.") :]
        assert len(suffix) == 16 and suffix.replace("-", "").replace("_", "").isalnum(), name
