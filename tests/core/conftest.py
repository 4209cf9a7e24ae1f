"""Fixtures of the core tests: a fresh in-memory world and a flow environment."""

from __future__ import annotations

import pytest

from thunderid_mw.core.env import FlowEnv

from .driver import World, make_env


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def env() -> FlowEnv:
    return make_env()
