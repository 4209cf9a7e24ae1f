"""Fixtures of the end-to-end tests: ``stacks`` (package scope), ``adapter``, ``app``,
``bystander`` and ``client``; the servers themselves are in stacks.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.stacks import ADAPTERS, Stacks
from tests.support.idp import IdP
from tests.support.servers import Server


@pytest.fixture(scope="package")
def stacks(idp: IdP, idp_tls: IdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    registry = Stacks(idp, idp_tls, tmp_path_factory.mktemp("e2e"))
    try:
        yield registry
    finally:
        registry.close()


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    """``gunicorn`` (the WSGI test app) or ``uvicorn`` (the ASGI test app)."""
    return str(request.param)


@pytest.fixture
def app(stacks: Stacks, adapter: str) -> Server:
    """The adapter's main server."""
    return stacks.get(adapter)


@pytest.fixture
def bystander(stacks: Stacks, adapter: str) -> httpx.Client:
    return stacks.bystander(adapter)


@pytest.fixture
def client(app: Server) -> Iterator[httpx.Client]:
    """A fresh cookie jar for the main server (a browser that has no session yet)."""
    with httpx.Client(base_url=app.url, timeout=30.0) as c:
        yield c
