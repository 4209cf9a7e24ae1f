"""Sign-in end to end, the same for WSGI (gunicorn, 2 workers) and ASGI (uvicorn): the
redirect dance with PKCE/state/nonce, the session cookie's flags, a new session id at every
sign-in, and several sign-ins in parallel tabs."""

from __future__ import annotations

import re

import httpx

from tests.e2e.flows import (
    API,
    BROWSER,
    COOKIE,
    TX_PREFIX,
    assert_clean_error,
    assert_signed_in,
    assert_signed_out,
    begin_sign_in,
    idp_callback,
    query_of,
    relative,
    set_cookies,
)
from tests.e2e.stacks import Stacks
from tests.support.idp import IdP
from tests.support.servers import Server, sign_in

B64URL_43 = re.compile(r"[A-Za-z0-9_-]{43}")


def test_browser_sign_in_round_trip(
    app: Server, client: httpx.Client, idp: IdP, bystander: httpx.Client
) -> None:
    response = client.get("/private", headers=BROWSER)
    assert response.status_code == 302
    assert response.headers["location"] == "/sign-in?return_to=%2Fprivate"

    response = client.get(response.headers["location"], headers=BROWSER)
    assert response.status_code == 302
    authorize_url = response.headers["location"]
    assert authorize_url.startswith(idp.metadata["authorization_endpoint"] + "?")
    params = query_of(authorize_url)
    assert params["response_type"] == "code"
    assert params["client_id"] == idp.conf_client_id
    assert params["redirect_uri"] == app.url + "/callback"
    assert "openid" in params["scope"].split()
    assert params["code_challenge_method"] == "S256"
    assert B64URL_43.fullmatch(params["code_challenge"])
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43
    assert params["state"] != params["nonce"]
    tx = set_cookies(response)[TX_PREFIX + params["state"][:16]]
    assert {"httponly", "path"} <= tx.attrs.keys() and "secure" not in tx.attrs
    assert tx.attrs["samesite"] == "Lax"
    assert "code_verifier" not in authorize_url and tx.value not in authorize_url

    callback = idp_callback(idp, authorize_url)
    assert callback.startswith("/callback?")
    assert query_of(callback)["iss"] == idp.issuer  # the IdP sends RFC 9207 iss
    response = client.get(callback, headers=BROWSER)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/private"
    cookies = set_cookies(response)
    assert cookies[tx.name].deleted  # the transaction is spent
    session = cookies[COOKIE]
    assert B64URL_43.fullmatch(session.value)
    assert "httponly" in session.attrs and "secure" not in session.attrs
    assert session.attrs["samesite"] == "Lax"
    assert session.attrs["path"] == "/"

    response = client.get("/private", headers=BROWSER)
    assert response.status_code == 200
    assert response.text == "private sub=user-alice"
    whoami = client.get("/api/whoami", headers=API).json()
    assert whoami["signed_in"] is True and whoami["sub"] == "user-alice"
    assert "signed_in=True" in client.get("/public").text
    assert_signed_in(bystander, "user-bob")


def test_session_cookie_is_secure_when_the_app_url_is_https(
    stacks: Stacks, adapter: str, idp: IdP
) -> None:
    """THUNDERID_AFTER_SIGN_IN_URL is https (a TLS-terminating proxy in front of an http
    server): every cookie gets Secure. The callback is driven over http by hand, sending
    the transaction cookie the way the browser would over https. On https both cookies
    carry the ``__Host-`` prefix (no sibling subdomain can plant or shadow them)."""
    server = stacks.get(adapter, "https_callback")
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        started = begin_sign_in(client, tx_prefix="__Host-" + COOKIE + ".tx.")
        assert "secure" in started.tx_cookie.attrs
        assert started.tx_cookie.attrs["path"] == "/" and "domain" not in started.tx_cookie.attrs
        assert query_of(started.authorize_url)["redirect_uri"] == (
            f"https://127.0.0.1:{server.port}/callback"
        )
        with httpx.Client(verify=idp.verify, timeout=30.0) as browser:
            callback = idp.login(browser, started.authorize_url)
        assert callback.startswith(f"https://127.0.0.1:{server.port}/callback?")
        response = httpx.get(
            server.url + relative(callback),
            headers={**BROWSER, "Cookie": f"{started.tx_cookie.name}={started.tx_cookie.value}"},
            timeout=30.0,
        )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/private"
    session = set_cookies(response)["__Host-" + COOKIE]
    assert B64URL_43.fullmatch(session.value)
    assert {"secure", "httponly"} <= session.attrs.keys()
    assert session.attrs["samesite"] == "Lax"


def test_sign_in_replaces_an_existing_session_id(
    app: Server, idp: IdP, bystander: httpx.Client
) -> None:
    client = sign_in(app.url, idp, "alice")
    try:
        old = client.cookies[COOKIE]
        started = begin_sign_in(client)  # the old cookie goes along, as a browser sends it
        response = client.get(idp_callback(idp, started.authorize_url), headers=BROWSER)
        assert response.status_code == 302, response.text
        new = set_cookies(response)[COOKIE].value
        assert B64URL_43.fullmatch(new)
        assert new != old
        assert client.cookies[COOKIE] == new
        assert_signed_in(client, "user-alice")
    finally:
        client.close()
    assert_signed_out(app.url, old, ended="signed_out")
    assert_signed_in(bystander, "user-bob")


def test_parallel_tabs_complete_in_any_order(app: Server, client: httpx.Client, idp: IdP) -> None:
    tabs = [begin_sign_in(client, f"/private?tab={i}") for i in range(3)]
    assert len({t.state for t in tabs}) == 3
    assert sum(name.startswith(TX_PREFIX) for name in client.cookies) == 3
    callbacks = [idp_callback(idp, t.authorize_url) for t in tabs]
    for i in reversed(range(3)):
        response = client.get(callbacks[i], headers=BROWSER)
        assert response.status_code == 302, (i, response.text)
        assert response.headers["location"] == f"/private?tab={i}"
        assert_signed_in(client, "user-alice")
    assert not any(name.startswith(TX_PREFIX) for name in client.cookies)


def test_too_many_sign_ins_in_progress_evict_the_oldest(
    app: Server, client: httpx.Client, idp: IdP, bystander: httpx.Client
) -> None:
    """max_sign_ins_in_progress is 5: the 6th sign-in deletes the oldest transaction, and
    completing that one is a clear 400 that says no sign-in is in progress for it."""
    tabs = [begin_sign_in(client, f"/private?tab={i}") for i in range(6)]
    assert set_cookies(tabs[5].response)[tabs[0].tx_cookie.name].deleted
    in_progress = {name for name in client.cookies if name.startswith(TX_PREFIX)}
    assert in_progress == {t.tx_cookie.name for t in tabs[1:]}

    oldest = client.get(idp_callback(idp, tabs[0].authorize_url), headers=BROWSER)
    assert_clean_error(oldest, 400, "unknown_state", api=False)
    assert "No sign-in is in progress" in oldest.text
    assert COOKIE not in client.cookies

    newest = client.get(idp_callback(idp, tabs[5].authorize_url), headers=BROWSER)
    assert newest.status_code == 302, newest.text
    assert newest.headers["location"] == "/private?tab=5"
    assert_signed_in(client, "user-alice")
    assert_signed_in(bystander, "user-bob")
