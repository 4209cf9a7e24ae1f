"""Fixtures of the ThunderID-profile suite: ``thunderid`` (the profile's IdP, counters reset)
and the token tests' ``start_app`` (gunicorn or uvicorn app; pass ``idp=thunderid``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.idp import IdP
from tests.tokens.conftest import start_app

__all__ = ["start_app", "thunderid"]


@pytest.fixture
def thunderid(idp_thunderid: IdP) -> Iterator[IdP]:
    """``idp_thunderid`` with clean counters and failure modes; default TTL restored after."""
    idp_thunderid.reset()
    yield idp_thunderid
    idp_thunderid.reset()
    idp_thunderid.set_access_token_ttl(idp_thunderid.default_access_token_ttl)
