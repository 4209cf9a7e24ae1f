"""Fixtures of the ThunderID-profile suite: ``thunderid`` (the profile's IdP, counters reset),
``thunderid_api`` (the protected API, trusting its tokens) and the token tests'
``start_app`` (gunicorn or uvicorn app; pass ``idp=thunderid``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.idp import IdP
from tests.support.protected_api import start_protected_api
from tests.tokens.conftest import start_app

__all__ = ["start_app", "thunderid", "thunderid_api"]


@pytest.fixture
def thunderid(idp_thunderid: IdP) -> Iterator[IdP]:
    """``idp_thunderid`` with clean counters and failure modes; default TTL restored after."""
    idp_thunderid.reset()
    yield idp_thunderid
    idp_thunderid.reset()
    idp_thunderid.set_access_token_ttl(idp_thunderid.default_access_token_ttl)


@pytest.fixture(scope="session")
def thunderid_api(idp_thunderid: IdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The protected API, trusting the ThunderID profile's tokens."""
    server = start_protected_api(
        idp_thunderid.issuer,
        tmp_path_factory.mktemp("thunderid_api"),
        ca_bundle=idp_thunderid.ca_path,
    )
    try:
        yield server
    finally:
        server.stop()
