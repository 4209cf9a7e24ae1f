"""An IdP on HTTPS with a self-signed certificate (ThunderID's default): sign-in works with
THUNDERID_CA_BUNDLE; without it, sign-in is a clear 502 and the server log names ca_bundle
(configuration advice goes to the log, not to end users' pages). https:// pointed at a
plain-http provider says the scheme is wrong, not that the certificate is untrusted."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.flows import BROWSER, assert_clean_error, assert_signed_in
from tests.e2e.stacks import Stacks
from tests.support.idp import IdP
from tests.support.servers import TEST_SECRET, sign_in
from thunderid_mw import AsyncThunderIDClient, ThunderIDClient, ThunderIDConfig
from thunderid_mw.core.errors import ProviderError, TLSVerificationError
from thunderid_mw.stores import MemoryStore

LOG_WAIT = 10.0


def test_sign_in_with_ca_bundle(stacks: Stacks, adapter: str, idp_tls: IdP) -> None:
    server = stacks.get(adapter, "tls")
    assert server.env["THUNDERID_BASE_URL"].startswith("https://")
    client = sign_in(server.url, idp_tls, "alice")
    try:
        assert_signed_in(client, "user-alice")
        assert client.get("/private").text == "private sub=user-alice"
    finally:
        client.close()


def test_without_ca_bundle_sign_in_is_502_and_the_log_names_ca_bundle(
    stacks: Stacks, adapter: str
) -> None:
    server = stacks.get(adapter, "tls_no_ca")
    assert "THUNDERID_CA_BUNDLE" not in server.env
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        assert client.get("/public").status_code == 200
        response = client.get("/sign-in?return_to=/private", headers=BROWSER)
        assert_clean_error(response, 502, "provider_tls_untrusted", api=False)
        assert "ca_bundle" not in response.text and "CA_BUNDLE" not in response.text
    deadline = time.monotonic() + LOG_WAIT
    while "ca_bundle" not in server.log():
        assert time.monotonic() < deadline, f"no ca_bundle hint in the server log:\n{server.log()}"
        time.sleep(0.1)
    line = next(line for line in server.log().splitlines() if "ca_bundle" in line)
    assert "TLS verification failed" in line and "THUNDERID_CA_BUNDLE" in line


def _config(idp_tls: IdP, **changes: object) -> ThunderIDConfig:
    return ThunderIDConfig(
        base_url=idp_tls.issuer,
        client_id=idp_tls.conf_client_id,
        client_secret=idp_tls.conf_client_secret,
        after_sign_in_url="http://127.0.0.1:9/callback",
        secret=TEST_SECRET,
        store=MemoryStore(),
        **changes,  # type: ignore[arg-type]
    )


def test_client_names_ca_bundle(idp_tls: IdP) -> None:
    client = ThunderIDClient(_config(idp_tls))
    try:
        with pytest.raises(TLSVerificationError, match="ca_bundle"):
            client.get_openid_provider_endpoints()
    finally:
        client.close()
    trusted = ThunderIDClient(_config(idp_tls, ca_bundle=idp_tls.ca_path))
    try:
        endpoints = trusted.get_openid_provider_endpoints()
    finally:
        trusted.close()
    assert endpoints["issuer"] == idp_tls.issuer
    assert endpoints["token_endpoint"] == idp_tls.metadata["token_endpoint"]


async def test_async_client_names_ca_bundle(idp_tls: IdP) -> None:
    client = AsyncThunderIDClient(_config(idp_tls))
    try:
        with pytest.raises(TLSVerificationError, match="ca_bundle"):
            await client.get_openid_provider_endpoints()
    finally:
        await client.aclose()


def test_https_pointed_at_plain_http_says_the_scheme_is_wrong(idp: IdP) -> None:
    plain = urlsplit(idp.issuer)
    assert plain.scheme == "http"
    config = ThunderIDConfig(
        base_url=f"https://{plain.netloc}",
        client_id=idp.conf_client_id,
        client_secret=idp.conf_client_secret,
        after_sign_in_url="http://127.0.0.1:9/callback",
        secret=TEST_SECRET,
        store=MemoryStore(),
    )
    client = ThunderIDClient(config)
    try:
        with pytest.raises(ProviderError) as raised:
            client.get_openid_provider_endpoints()
    finally:
        client.close()
    assert not isinstance(raised.value, TLSVerificationError)
    assert "does not speak TLS" in str(raised.value) and "http://" in str(raised.value)
    assert "ca_bundle" not in str(raised.value)
