"""Fixtures of the ThunderID-profile suite: ``thunderid`` (the profile's IdP, counters reset),
``thunderid_api`` (the protected API, trusting its tokens) and the token tests'
``start_app`` (gunicorn or uvicorn app; pass ``idp=thunderid``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.idp import IdP, cleaned
from tests.support.protected_api import serving_protected_api
from tests.tokens.conftest import start_app

__all__ = ["start_app", "thunderid", "thunderid_api"]


@pytest.fixture
def thunderid(idp_thunderid: IdP) -> Iterator[IdP]:
    """``idp_thunderid`` with clean counters and failure modes; default TTL restored after."""
    yield from cleaned(idp_thunderid)


@pytest.fixture(scope="session")
def thunderid_api(idp_thunderid: IdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The protected API, trusting the ThunderID profile's tokens."""
    yield from serving_protected_api(idp_thunderid, tmp_path_factory.mktemp("thunderid_api"))
