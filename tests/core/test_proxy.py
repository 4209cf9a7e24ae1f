"""The public origin of a request: forwarded headers count only from a trusted proxy."""

from __future__ import annotations

import pytest

from thunderid_mw.core.config import ThunderIDConfig
from thunderid_mw.core.errors import ConfigError
from thunderid_mw.core.proxy import parse_networks, public_origin

from .driver import make_config

PROXY = parse_networks(["10.0.0.5", "192.168.0.0/16", "::1"])


def origin(peer: str | None, scheme: str = "http", host: str = "app:8000", **headers: str) -> str:
    lowered = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return public_origin(scheme, host, peer, lowered.get, PROXY)


def test_without_forwarded_headers_the_request_itself_counts() -> None:
    assert origin("10.0.0.5") == "http://app:8000"
    assert origin(None, "https", "App.Example:443") == "https://app.example"


@pytest.mark.parametrize("peer", ["10.0.0.5", "192.168.4.2", "::1"])
def test_a_trusted_proxy_sets_scheme_and_host(peer: str) -> None:
    assert (
        origin(peer, x_forwarded_proto="https", x_forwarded_host="app.example")
        == "https://app.example"
    )
    assert origin(peer, forwarded='for=1.2.3.4;proto=https;host="app.example"') == (
        "https://app.example"
    )


@pytest.mark.parametrize("peer", ["203.0.113.9", "10.0.0.6", None, "/run/app.sock"])
def test_spoofed_headers_from_anyone_else_change_nothing(peer: str | None) -> None:
    assert (
        origin(
            peer,
            x_forwarded_proto="https",
            x_forwarded_host="evil.example",
            forwarded="proto=https;host=evil.example",
        )
        == "http://app:8000"
    )


def test_the_value_our_proxy_appended_wins() -> None:
    # The client sent "evil.example"; our proxy appended the real host after it.
    assert (
        origin(
            "10.0.0.5",
            x_forwarded_host="evil.example, app.example",
            x_forwarded_proto="http, https",
        )
        == "https://app.example"
    )
    assert origin("10.0.0.5", forwarded="host=evil.example, host=app.example;proto=https") == (
        "https://app.example"
    )


@pytest.mark.parametrize("host", ["evil.example/x", "a@b", "", "bad host"])
def test_an_unusable_host_gives_no_origin(host: str) -> None:
    no_headers: dict[str, str] = {}
    assert public_origin("http", host, None, no_headers.get, ()) == ""


@pytest.mark.parametrize("host", ["evil.example/x", "a@b", "bad host"])
def test_an_unusable_forwarded_host_gives_no_origin(host: str) -> None:
    assert origin("10.0.0.5", x_forwarded_host=host) == ""


def test_an_empty_forwarded_host_counts_as_absent() -> None:
    assert origin("10.0.0.5", x_forwarded_host="") == "http://app:8000"


def test_an_unknown_forwarded_proto_is_ignored() -> None:
    assert origin("10.0.0.5", x_forwarded_proto="gopher") == "http://app:8000"


@pytest.mark.parametrize("entry", ["not-an-ip", "10.0.0.0/33", "app.example"])
def test_bad_trusted_proxies_are_config_errors(entry: str) -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        make_config(trusted_proxies=(entry,))


def test_trusted_proxies_from_env() -> None:
    config = ThunderIDConfig.from_env(
        {
            "THUNDERID_CLIENT_ID": "app",
            "THUNDERID_AFTER_SIGN_IN_URL": "https://app.test/callback",
            "THUNDERID_SECRET": make_config().secret,
            "THUNDERID_TRUSTED_PROXIES": "10.0.0.5, 192.168.0.0/16",
        }
    )
    assert config.trusted_proxy_networks == parse_networks(["10.0.0.5", "192.168.0.0/16"])
