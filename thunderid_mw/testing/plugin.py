"""The pytest plugin (entry point ``thunderid_mw``): the ``thunderid`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .kit import FakeThunderID
from .provider import FakeProvider


@pytest.fixture(scope="session")
def thunderid_provider() -> Iterator[FakeProvider]:
    """The fake OpenID provider, served on a local port for the whole test session (an
    app that reads its settings once at import keeps working across tests)."""
    provider = FakeProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def thunderid(thunderid_provider: FakeProvider) -> Iterator[FakeThunderID]:
    """The test kit, with the provider's switches reset for this test."""
    thunderid_provider.reset()
    kit = FakeThunderID(thunderid_provider)
    yield kit
    kit.close()
