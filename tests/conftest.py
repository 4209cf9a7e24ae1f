"""Shared fixtures: each support module registers its own."""

pytest_plugins = [
    "tests.support.idp",
    "tests.support.protected_api",
    "tests.support.redis_server",
    "tests.support.servers",
    "tests.support.docs",  # imports the ones above: after them
]
