"""Token endpoint requests (client authentication) and responses."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote_plus

import pytest

from thunderid_mw.core.errors import ProviderError, TokenEndpointError
from thunderid_mw.core.tokens import (
    MAX_RESPONSE_BYTES,
    NOT_AN_OAUTH_ERROR,
    TokenSet,
    build_token_request,
    client_auth,
    json_number,
    parse_token_response,
)

NOW = 1_000.0


def decode_basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    user, sep, password = base64.b64decode(encoded).decode().partition(":")
    assert sep == ":"
    return user, password


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("app", "s3cret"),
        ("app:1", "a:b%c"),
        ("id with space", "+/=&?%25"),
        ("ünï", "sécret"),
    ],
)
def test_client_secret_basic_form_urlencodes_both_parts(client_id: str, secret: str) -> None:
    form, headers = client_auth("client_secret_basic", client_id, secret)
    assert form == {}
    user, password = decode_basic(headers["Authorization"])
    # RFC 6749 2.3.1: the only ':' left separates the two encoded parts.
    assert ":" not in user
    assert ":" not in password
    assert "%" not in secret or "%25" in password
    assert (unquote_plus(user), unquote_plus(password)) == (client_id, secret)


def test_client_secret_post() -> None:
    form, headers = client_auth("client_secret_post", "app", "a:b%")
    assert form == {"client_id": "app", "client_secret": "a:b%"}
    assert headers == {}


def test_none_sends_only_client_id() -> None:
    form, headers = client_auth("none", "app", None)
    assert form == {"client_id": "app"}
    assert headers == {}


def test_build_token_request() -> None:
    request = build_token_request(
        "https://idp.test/token",
        {"grant_type": "refresh_token", "refresh_token": "rt", "client_id": "from-params"},
        method="none",
        client_id="app",
        client_secret=None,
    )
    assert request.url == "https://idp.test/token"
    assert request.form["grant_type"] == "refresh_token"
    assert request.form["client_id"] == "from-params"  # explicit params are not overwritten
    assert request.headers["Accept"] == "application/json"


def test_build_token_request_with_bearer() -> None:
    request = build_token_request(
        "https://idp.test/token",
        {},
        method="client_secret_post",
        client_id="app",
        client_secret="sek",
        bearer="at-1",
    )
    assert request.headers["Authorization"] == "Bearer at-1"
    assert request.form == {"client_id": "app", "client_secret": "sek"}


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_parse_success_with_expires_in() -> None:
    tokens = parse_token_response(
        200,
        body(
            {
                "access_token": "at",
                "token_type": "bearer",
                "expires_in": 300,
                "refresh_token": "rt",
                "id_token": "it",
                "scope": "openid profile",
                "refresh_expires_in": "7200",
            }
        ),
        NOW,
    )
    assert tokens == TokenSet(
        access_token="at",
        token_type="bearer",
        expires_at=NOW + 300,
        refresh_token="rt",
        id_token="it",
        scopes=("openid", "profile"),
        refresh_expires_at=NOW + 7200,
    )


@pytest.mark.parametrize("expires_in", [None, "soon", True, [1], "nan", "inf", "-inf"])
def test_unusable_expires_in_means_unknown(expires_in: object) -> None:
    doc: dict[str, object] = {"access_token": "at"}
    if expires_in is not None:
        doc["expires_in"] = expires_in
    assert parse_token_response(200, body(doc), NOW).expires_at is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_provider_error(status: int) -> None:
    with pytest.raises(ProviderError, match=str(status)):
        parse_token_response(status, body({"error": "invalid_grant"}), NOW)


@pytest.mark.parametrize("status", [400, 401])
def test_oauth_error(status: int) -> None:
    doc = {"error": "invalid_grant", "error_description": "grant request is invalid"}
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(status, body(doc), NOW)
    assert info.value.error == "invalid_grant"
    assert info.value.error_description == "grant request is invalid"
    assert info.value.status == status


def test_error_in_a_200_is_an_error() -> None:
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(200, body({"error": "slow_down"}), NOW)
    assert info.value.error_description is None


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (200, b"<html>oops</html>"),
        (200, b"[1, 2]"),
        (401, body({"message": "no error code"})),
        (429, body({"error": "slow_down"})),
        (200, body({"token_type": "Bearer"})),  # missing access_token
        (200, body({"access_token": ""})),
        (200, body({"access_token": 5})),
        (200, b" " * (MAX_RESPONSE_BYTES + 1)),
    ],
)
def test_unusable_answers_are_provider_errors(status: int, payload: bytes) -> None:
    with pytest.raises(ProviderError):
        parse_token_response(status, payload, NOW)


@pytest.mark.parametrize("payload", [b"", b"not json", body({"message": "no error code"})])
def test_a_400_that_is_not_an_oauth_error_is_about_the_grant(payload: bytes) -> None:
    """Some providers answer a revoked refresh token with a bare 400: it is classified
    with invalid_grant, not as a provider outage (which would retry it forever)."""
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(400, payload, NOW)
    assert info.value.error == NOT_AN_OAUTH_ERROR


def test_merged_with_keeps_refresh_token_when_not_rotated() -> None:
    old = TokenSet("at-1", expires_at=1.0, refresh_token="rt-1", id_token="it-1",
                   scopes=("openid",), refresh_expires_at=99.0)  # fmt: skip
    merged = old.merged_with(TokenSet("at-2", expires_at=2.0))
    assert merged == TokenSet("at-2", expires_at=2.0, refresh_token="rt-1", id_token="it-1",
                              scopes=("openid",), refresh_expires_at=99.0)  # fmt: skip


def test_merged_with_takes_rotated_values() -> None:
    old = TokenSet("at-1", refresh_token="rt-1", id_token="it-1", scopes=("openid",))
    newer = TokenSet("at-2", refresh_token="rt-2", id_token="it-2", scopes=("openid", "email"))
    assert old.merged_with(newer) == newer


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER"])
def test_bearer_is_accepted_in_any_case(token_type: str) -> None:
    tokens = parse_token_response(200, body({"access_token": "a", "token_type": token_type}), 0)
    assert tokens.access_token == "a"


@pytest.mark.parametrize("token_type", ["DPoP", "mac", "N_A"])
def test_a_token_type_we_cannot_use_is_refused(token_type: str) -> None:
    """RFC 6749 7.1, at sign-in and at refresh (both parse here)."""
    with pytest.raises(ProviderError, match=token_type):
        parse_token_response(200, body({"access_token": "a", "token_type": token_type}), 0)


def test_a_numeric_string_expires_in_is_accepted() -> None:
    doc = {"access_token": "at", "expires_in": "3600", "refresh_expires_in": "7200"}
    tokens = parse_token_response(200, body(doc), NOW)
    assert (tokens.expires_at, tokens.refresh_expires_at) == (NOW + 3600, NOW + 7200)


@pytest.mark.parametrize(
    ("value", "strings", "expected"),
    [
        (5, False, 5.0),
        (2.5, False, 2.5),
        ("5", False, None),  # a JWT exp must be a number
        ("5", True, 5.0),
        (True, True, None),
        (float("nan"), False, None),
        ("1e999", True, None),  # infinite
        (None, True, None),
    ],
)
def test_json_number(value: object, strings: bool, expected: float | None) -> None:
    assert json_number(value, strings=strings) == expected
