"""Finding the session cookie cheaply and safely; writing Set-Cookie with the right flags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thunderid_mw.core.config import SessionCookieConfig
from thunderid_mw.core.cookies import (
    MAX_COOKIE_HEADER,
    REMEMBERED_HEADER_LENGTH,
    REMEMBERED_HEADERS,
    SessionCookieReader,
    clear_session_cookie,
    find_cookie,
    iter_cookies,
    new_session_id,
    session_cookie,
    session_id_from_header,
    set_cookie,
    transaction_cookie_prefix,
)
from thunderid_mw.core.errors import ConfigError

from .driver import make_config

NAME = "__thunderid__session"
SID = "A" * 20 + "b-_" + "9" * 20  # 43 characters of the base64url alphabet


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{NAME}=v1", "v1"),
        (f"a=1; {NAME}=v1", "v1"),
        (f"{NAME}=v1; a=1", "v1"),
        (f"a=1;{NAME}=v1;b=2", "v1"),
        (f'{NAME}="quoted"', "quoted"),
        (f"x{NAME}=bad; {NAME}=good", "good"),
        (f"x{NAME}=bad", None),
        (f"a=x{NAME}=bad", None),
        (f"{NAME}x=bad", None),
        ("a=1; b=2", None),
        ("", None),
        (f"{NAME}=", ""),
        (f"{NAME}=first; {NAME}=second", "first"),
    ],
)
def test_find_cookie(header: str, expected: str | None) -> None:
    assert find_cookie(header, NAME) == expected


def test_find_cookie_prefixed_name_does_not_match() -> None:
    # A cookie named x__thunderid__session must not be read as the session cookie.
    assert session_id_from_header(f"x__thunderid__session={SID}", NAME) is None
    assert session_id_from_header(f"x__thunderid__session=zz; {NAME}={SID}", NAME) == SID


@pytest.mark.parametrize(
    "header",
    [
        f"{NAME}={SID}",
        f'{NAME}="{SID}"',
        f"a=1; {NAME}={SID}",
        f"{NAME}={SID}; zz=1",
        f"a=1; {NAME}={SID} ; b=2",
    ],
)
def test_session_id_found(header: str) -> None:
    assert session_id_from_header(header, NAME) == SID


@pytest.mark.parametrize(
    "value",
    [
        SID[:-1],  # truncated
        SID + "A",  # too long
        SID[:-1] + "=",  # padding
        SID[:-1] + "!",  # outside the alphabet
        SID[:-1] + "+",  # standard base64, not url-safe
        "A" * 8192,  # 8 KB value
        "garbage",
        "",
    ],
)
def test_session_id_rejects_malformed_values(value: str) -> None:
    assert session_id_from_header(f"{NAME}={value}", NAME) is None


def test_session_id_rejects_oversized_header() -> None:
    header = f"{NAME}={SID}; pad=" + "x" * MAX_COOKIE_HEADER
    assert len(header) > MAX_COOKIE_HEADER
    assert session_id_from_header(header, NAME) is None
    # The same cookie in a header just under the limit is found.
    fitting = f"{NAME}={SID}; pad=" + "x" * (MAX_COOKIE_HEADER - 100)
    assert session_id_from_header(fitting, NAME) == SID


@pytest.mark.parametrize("header", [None, ""])
def test_session_id_absent(header: str | None) -> None:
    assert session_id_from_header(header, NAME) is None


def test_new_session_id_is_43_chars_from_32_bytes() -> None:
    sid = new_session_id(bytes(range(32)))
    assert len(sid) == 43
    assert session_id_from_header(f"{NAME}={sid}", NAME) == sid
    with pytest.raises(ValueError, match="exactly 32 random bytes"):
        new_session_id(b"\x00" * 31)


def test_iter_cookies_by_prefix() -> None:
    a, b = "A" * 16, "b-_" + "9" * 13
    header = f'{NAME}.tx.{a}=1; other=2; {NAME}.tx.{b}="3"; {NAME}.tx.short=4; {NAME}.tx.{a}x=5'
    assert list(iter_cookies(header, NAME + ".tx.")) == [
        (f"{NAME}.tx.{a}", "1"),
        (f"{NAME}.tx.{b}", "3"),
    ]
    assert list(iter_cookies("x" * (MAX_COOKIE_HEADER + 1), "x")) == []


def _flags(header: str) -> list[str]:
    return [part.strip() for part in header.split(";")]


def test_session_cookie_default_flags_on_https() -> None:
    flags = _flags(session_cookie(make_config(), SID))
    assert flags[0] == f"__Host-{NAME}={SID}"
    assert not any(f.startswith("Domain=") for f in flags)
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags
    assert "Secure" in flags
    assert "Path=/" in flags
    assert "Max-Age=86400" in flags


def test_no_secure_on_plain_http_with_lax() -> None:
    config = make_config(after_sign_in_url="http://localhost:3000/callback")
    assert "Secure" not in _flags(session_cookie(config, SID))


def test_same_site_none_forces_secure() -> None:
    config = make_config(
        after_sign_in_url="http://localhost:3000/callback",
        session_cookie=SessionCookieConfig(same_site="none"),
    )
    flags = _flags(session_cookie(config, SID))
    assert "SameSite=None" in flags
    assert "Secure" in flags


def test_configured_flags() -> None:
    config = make_config(
        session_cookie=SessionCookieConfig(
            name="sid", same_site="strict", http_only=False, domain="app.test", expiry_time=60
        )
    )
    flags = _flags(session_cookie(config, SID))
    assert flags[0] == f"sid={SID}"
    assert "SameSite=Strict" in flags
    assert "HttpOnly" not in flags
    assert "Domain=app.test" in flags
    assert "Max-Age=60" in flags


def test_max_age_zero_deletes() -> None:
    flags = _flags(clear_session_cookie(make_config()))
    assert flags[0] == f"__Host-{NAME}="
    assert "Max-Age=0" in flags
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in flags
    # A deletion carries the same scope flags, or the browser would keep the cookie.
    assert "Path=/" in flags
    assert "Secure" in flags


def test_set_cookie_path_override() -> None:
    flags = _flags(set_cookie(make_config(), "n", "v", max_age=5, path="/cb"))
    assert "Path=/cb" in flags
    assert "Max-Age=5" in flags
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" not in flags


def test_host_prefix_only_where_the_browser_enforces_it() -> None:
    """``__Host-`` (Secure, Path=/, no Domain) stops a sibling subdomain from planting or
    shadowing our cookies; over http, or with a Domain or Path, the plain name stays."""
    https = make_config()
    assert https.cookie_name == "__Host-" + NAME
    assert transaction_cookie_prefix(https) == "__Host-" + NAME + ".tx."
    plain = make_config(after_sign_in_url="http://localhost:3000/callback")
    assert plain.cookie_name == NAME
    opted_out = make_config(session_cookie=SessionCookieConfig(host_prefix=False))
    assert opted_out.cookie_name == NAME
    with_domain = make_config(session_cookie=SessionCookieConfig(domain="app.test"))
    assert with_domain.cookie_name == NAME


def test_host_prefix_that_cannot_hold_is_refused() -> None:
    with pytest.raises(ConfigError, match="host_prefix"):
        SessionCookieConfig(host_prefix=True, domain="app.test")
    with pytest.raises(ConfigError, match="host_prefix"):
        make_config(
            after_sign_in_url="http://localhost:3000/callback",
            session_cookie=SessionCookieConfig(host_prefix=True),
        )


# -- SessionCookieReader: the same answers, remembered ------------------------------------

COOKIE_PARTS = st.sampled_from(
    [f"{NAME}={SID}", f"{NAME}=", f'{NAME}="{SID}"', f"{NAME}={SID[:-1]}", f"x{NAME}={SID}",
     f"{NAME}={SID}!", "theme=dark", "a=b", " ", ";", "=", '"', "é", f"{NAME}"]
)  # fmt: skip
HEADERS = st.lists(COOKIE_PARTS, max_size=6).map("; ".join) | st.text(max_size=80)


@given(HEADERS)
def test_the_reader_answers_as_session_id_from_header(header: str) -> None:
    reader = SessionCookieReader(NAME)
    raw = header.encode("utf-8")  # as an ASGI server passes it
    for _ in range(2):  # parsed, then remembered
        assert reader.session_id_in(header) == session_id_from_header(header, NAME)
        assert reader.session_id_in(raw) == session_id_from_header(raw.decode("latin-1"), NAME)


def test_the_reader_remembers_a_bounded_number_of_short_headers() -> None:
    reader = SessionCookieReader(NAME)
    for nothing in (None, "", b""):
        assert reader.session_id_in(nothing) is None
    headers = [f"{NAME}={SID[:-4]}{i:04d}" for i in range(REMEMBERED_HEADERS + 10)]
    for header in headers:
        assert reader.session_id_in(header) == header.partition("=")[2]
    assert 0 < len(reader._known) <= REMEMBERED_HEADERS  # emptied once when full
    long_header = f"{NAME}={SID}; pad=" + "x" * REMEMBERED_HEADER_LENGTH
    assert reader.session_id_in(long_header) == SID
    assert long_header not in reader._known  # too long to keep
