"""Smoke tests of the test IdP itself (tests/idp), with plain httpx: no thunderid_mw."""

from __future__ import annotations

import hashlib
import secrets
import ssl
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support import idp as idp_module
from tests.support.idp import (
    IdP,
    IdPError,
    IdPSilent,
    LoginFailed,
    b64url,
    jwt_claims,
    start_idp,
    start_once,
)

REDIRECT_URI = "http://127.0.0.1:5999/callback"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def _client_auth(idp: IdP, client_id: str) -> dict[str, Any]:
    """httpx kwargs authenticating client_id at the token endpoint its registered way."""
    if client_id == idp.conf_client_id:
        return {"auth": (idp.conf_client_id, idp.conf_client_secret)}
    if client_id == idp.conf_post_client_id:
        return {"data": {"client_id": client_id, "client_secret": idp.conf_post_client_secret}}
    return {"data": {"client_id": client_id}}


def _token(idp: IdP, client_id: str, form: dict[str, str], **kw: Any) -> httpx.Response:
    auth = _client_auth(idp, client_id)
    data = {**auth.pop("data", {}), **form}
    kw.setdefault("timeout", 10)
    return httpx.post(idp.metadata["token_endpoint"], data=data, **auth, **kw)


def _sign_in(
    idp: IdP,
    client_id: str = "conf-client",
    username: str = "alice",
    scope: str = "openid profile email",
) -> dict[str, Any]:
    """Authorization code + PKCE flow via ``idp.login``; returns the token response."""
    verifier = b64url(secrets.token_bytes(32))
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
    )
    with httpx.Client() as browser:
        callback = idp.login(browser, f"{idp.metadata['authorization_endpoint']}?{query}", username)
    assert callback.startswith(REDIRECT_URI + "?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert params["state"] == state
    assert params["iss"] == idp.issuer  # RFC 9207
    response = _token(
        idp,
        client_id,
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    assert jwt_claims(tokens["id_token"])["nonce"] == nonce
    return tokens


def _refresh(
    idp: IdP, refresh_token: str, client_id: str = "conf-client", **kw: Any
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token(idp, client_id, form, **kw)


def test_discovery(idp: IdP) -> None:
    meta = httpx.get(idp.discovery_url).json()
    assert meta["issuer"] == idp.issuer
    assert meta["token_endpoint"] == f"{idp.issuer}/oauth2/token"
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"authorization_code", "refresh_token", TOKEN_EXCHANGE, "account_switch"} <= set(
        meta["grant_types_supported"]
    )
    for key in ("revocation_endpoint", "introspection_endpoint", "end_session_endpoint"):
        assert meta[key].startswith(idp.issuer)
    assert httpx.get(meta["jwks_uri"]).json()["keys"][0]["kty"] == "RSA"


@pytest.mark.parametrize("client_id", ["conf-client", "conf-post-client", "public-client"])
def test_code_flow_with_pkce(idp_reset: IdP, client_id: str) -> None:
    idp = idp_reset
    tokens = _sign_in(idp, client_id)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == idp.default_access_token_ttl
    assert tokens["refresh_token"]
    claims = jwt_claims(tokens["id_token"])
    assert claims["iss"] == idp.issuer
    assert claims["aud"] == client_id
    assert claims["sub"] == "user-alice"
    assert claims["name"] == "Alice Liddell"
    assert claims["email"] == "alice@example.test"
    userinfo = httpx.get(
        idp.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ).json()
    assert userinfo["sub"] == "user-alice"
    assert userinfo["email_verified"] is True
    assert idp.token_counts("authorization_code") == {"calls": 1, "ok": 1, "errors": 0}


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # no PKCE
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_redirect_uri"),
    ],
)
def test_authorize_rejects(idp: IdP, extra: dict[str, str | None], error: str) -> None:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "conf-client",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": b64url(hashlib.sha256(b"v" * 43).digest()),
        "code_challenge_method": "S256",
        **extra,
    }
    query = urlencode({k: v for k, v in params.items() if v is not None})
    response = httpx.get(f"{idp.metadata['authorization_endpoint']}?{query}")
    if response.is_redirect:  # errors go back to a valid redirect_uri...
        assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == [error]
    else:  # ...and are shown at the IdP for an invalid one
        assert response.status_code == 400
        assert error in response.text


def test_wrong_password_rerenders_login(idp: IdP) -> None:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "public-client",
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "code_challenge": b64url(hashlib.sha256(b"x" * 43).digest()),
            "code_challenge_method": "S256",
        }
    )
    with httpx.Client() as browser, pytest.raises(LoginFailed, match="Invalid username"):
        idp.login(browser, f"{idp.metadata['authorization_endpoint']}?{query}", "alice", "nope")


def _introspect(idp: IdP, token: str) -> dict[str, Any]:
    response = httpx.post(
        idp.metadata["introspection_endpoint"],
        data={"token": token},
        auth=(idp.conf_client_id, idp.conf_client_secret),
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_refresh_rotation_and_reuse_detection(idp_reset: IdP) -> None:
    idp = idp_reset
    first = _sign_in(idp)["refresh_token"]
    first_exp = _introspect(idp, first)["exp"]
    assert abs(first_exp - time.time() - 86400) < 30  # REFRESH_TOKEN_TTL default
    time.sleep(1.1)  # so that a fresh lifetime would give a later exp
    rotated = _refresh(idp, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    assert "id_token" in rotated.json()
    # The rotated token keeps the first one's absolute expiry.
    assert _introspect(idp, second)["exp"] == first_exp
    third = _refresh(idp, second).json()["refresh_token"]

    reuse = _refresh(idp, first)
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # Reuse revoked the whole family: the newest refresh token is dead too.
    assert _refresh(idp, third).json()["error"] == "invalid_grant"
    counts = idp.counts()
    assert counts["refresh_reuse"] == 1
    assert counts["token"]["refresh_token"] == {"calls": 4, "ok": 2, "errors": 2}
    assert idp.refresh_grants() == 4


def test_concurrent_refresh_with_one_token_is_reuse(idp_reset: IdP) -> None:
    """N simultaneous refreshes with one token: one wins, the rest are reuse and revoke all."""
    idp = idp_reset
    refresh_token = _sign_in(idp)["refresh_token"]
    barrier = threading.Barrier(4)
    results: list[httpx.Response] = []

    def refresh() -> None:
        barrier.wait()
        results.append(_refresh(idp, refresh_token))

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1
    assert {r.json()["error"] for r in results if r not in winners} == {"invalid_grant"}
    assert idp.counts()["refresh_reuse"] == 3
    assert _refresh(idp, winners[0].json()["refresh_token"]).status_code == 400


def test_token_exchange(idp_reset: IdP) -> None:
    idp = idp_reset
    subject = _sign_in(idp, scope="openid profile api:read")["access_token"]
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": "https://api.example.test",
        "scope": "api:read",
    }
    response = _token(idp, "conf-client", form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api:read"
    assert body["expires_in"] == idp.default_access_token_ttl
    info = _introspect(idp, body["access_token"])
    assert info["active"] is True
    assert info["sub"] == "user-alice"
    assert info["aud"] == "https://api.example.test"

    bad = _token(idp, "conf-client", {**form, "subject_token": "not-a-token"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")
    wrong_type = _token(idp, "conf-client", {**form, "subject_token_type": "urn:x"})
    assert wrong_type.json()["error"] == "invalid_request"
    assert idp.token_counts(TOKEN_EXCHANGE) == {"calls": 3, "ok": 1, "errors": 2}


def test_account_switch(idp_reset: IdP) -> None:
    idp = idp_reset
    current = _sign_in(idp)["access_token"]
    form = {"grant_type": "account_switch", "token": current, "scope": "openid profile"}
    response = _token(idp, "conf-client", {**form, "username": "bob"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"access_token", "refresh_token", "id_token", "expires_in", "scope"} <= set(body)
    claims = jwt_claims(body["id_token"])
    assert (claims["sub"], claims["aud"], claims["iss"]) == ("user-bob", "conf-client", idp.issuer)
    assert claims["name"] == "Bob Builder"
    assert "nonce" not in claims
    # Its refresh token is a normal, rotating one.
    assert _refresh(idp, body["refresh_token"]).status_code == 200

    same_user = _token(idp, "conf-client", form).json()
    assert jwt_claims(same_user["id_token"])["sub"] == "user-alice"

    bad = _token(idp, "conf-client", {**form, "token": "not-a-token"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")


def test_revocation_and_logout(idp_reset: IdP) -> None:
    idp = idp_reset
    tokens = _sign_in(idp)
    revoke = httpx.post(
        idp.metadata["revocation_endpoint"],
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
        auth=(idp.conf_client_id, idp.conf_client_secret),
    )
    assert revoke.status_code == 200
    assert _introspect(idp, tokens["access_token"])["active"] is False
    assert idp.counts()["revocations"] == 1

    with httpx.Client() as browser:
        verifier = "v" * 43
        query = urlencode(
            {
                "response_type": "code",
                "client_id": "public-client",
                "redirect_uri": REDIRECT_URI,
                "scope": "openid",
                "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
                "code_challenge_method": "S256",
            }
        )
        idp.login(browser, f"{idp.metadata['authorization_endpoint']}?{query}")
        # The IdP session is reused: no login form the second time.
        callback = idp.login(browser, f"{idp.metadata['authorization_endpoint']}?{query}", "x", "y")
        assert "code=" in callback
        logout_query = urlencode(
            {
                "client_id": "public-client",
                "post_logout_redirect_uri": "http://localhost:5999/bye",
                "state": "s1",
            }
        )
        end_session = f"{idp.metadata['end_session_endpoint']}?{logout_query}"
        assert idp.logout(browser, end_session) == "http://localhost:5999/bye?state=s1"
        # Signed out at the IdP: the login form is back.
        with pytest.raises(LoginFailed):
            idp.login(browser, f"{idp.metadata['authorization_endpoint']}?{query}", "x", "y")


def test_fail_and_config(idp_reset: IdP) -> None:
    idp = idp_reset
    refresh_token = _sign_in(idp)["refresh_token"]
    idp.fail("token", 503, times=1)
    assert _refresh(idp, refresh_token).status_code == 503
    idp.set_access_token_ttl(7)
    response = _refresh(idp, refresh_token)  # the failed call consumed nothing
    assert response.status_code == 200
    assert response.json()["expires_in"] == 7
    idp.fail("discovery", 500, times=-1)
    assert httpx.get(idp.discovery_url).status_code == 500
    assert httpx.get(idp.discovery_url).status_code == 500
    idp.reset()
    assert httpx.get(idp.discovery_url).status_code == 200
    assert idp.counts()["token"] == {}


def test_hold_refresh_drops_abandoned_request(idp_reset: IdP) -> None:
    idp = idp_reset
    refresh_token = _sign_in(idp)["refresh_token"]
    idp.hold_refresh(1000)
    with pytest.raises(httpx.ReadTimeout):
        _refresh(idp, refresh_token, timeout=0.2)
    time.sleep(1.0)  # let the hold expire on the server
    counts = idp.counts()
    assert counts["refresh_dropped"] == 1
    assert counts["token"]["refresh_token"] == {"calls": 1, "ok": 0, "errors": 0}
    idp.hold_refresh(0)
    assert _refresh(idp, refresh_token).status_code == 200  # not consumed
    assert idp.refresh_grants() == 1


def test_hold_refresh_answers_patient_clients(idp_reset: IdP) -> None:
    idp = idp_reset
    refresh_token = _sign_in(idp)["refresh_token"]
    idp.hold_refresh(300)
    started = time.monotonic()
    assert _refresh(idp, refresh_token).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert idp.counts()["refresh_dropped"] == 0


def test_tls_discovery(idp_tls: IdP) -> None:
    assert idp_tls.issuer.startswith("https://127.0.0.1:")
    strict = ssl.create_default_context(cafile=idp_tls.ca_path)
    strict.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default
    response = httpx.get(idp_tls.discovery_url, verify=strict)
    assert response.json()["issuer"] == idp_tls.issuer
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(idp_tls.discovery_url)


def test_a_failed_idp_start_is_not_tried_again_in_the_session() -> None:
    """Each try would wait the whole start timeout, once per test asking for the fixture."""
    tries: list[int] = []

    def failing() -> IdP:
        tries.append(1)
        raise IdPError("did not start")

    for _ in range(3):
        with pytest.raises(IdPError, match="did not start"):
            start_once("never-starts", failing)
    assert len(tries) == 1


# -- start-up -------------------------------------------------------------------------------


def _fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """Make start_idp run ``source`` instead of the IdP, with a 1 s deadline."""
    script = tmp_path / "fake_server.mjs"
    script.write_text(source)
    monkeypatch.setattr(idp_module, "SERVER_JS", script)
    monkeypatch.setattr(idp_module, "START_TIMEOUT", 1.0)


def test_a_silent_idp_process_is_replaced_once_then_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_server(tmp_path, monkeypatch, "setTimeout(() => {}, 30000);\n")
    with pytest.raises(IdPSilent, match="printed nothing within 1 s"):
        start_idp(tmp_path / "idp")
    assert (tmp_path / "idp" / "1" / "idp.log").read_bytes() == b""
    assert (tmp_path / "idp" / "2" / "idp.log").read_bytes() == b""


def test_an_idp_process_that_speaks_but_never_gets_ready_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_server(tmp_path, monkeypatch, "console.log('loading');\nsetTimeout(() => {}, 30000);\n")
    with pytest.raises(IdPError, match="did not start within 1 s") as raised:
        start_idp(tmp_path / "idp")
    assert not isinstance(raised.value, IdPSilent)
    assert "loading" in str(raised.value)
    assert not (tmp_path / "idp" / "2").exists()
