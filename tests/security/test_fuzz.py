"""Hostile input as a standing test: hypothesis sends requests around every route to both
middlewares over the memory and SQLite stores (``tests/support/fuzz.py`` says what is
sent and which properties are checked). This is the short run; ``scripts/fuzz.py`` runs
the long, seeded one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.fuzz import FuzzRequest, Harness, describe, looks_protected, requests

SHORT_RUN = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(
    params=[
        "wsgi-memory",
        "wsgi-sqlite",
        "asgi-memory",
        "asgi-sqlite",
        "wsgi-memory-/app",
        "asgi-memory-/app",
    ]
)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    adapter, store, *mount = str(request.param).split("-")
    running = Harness(adapter, store, *mount)
    yield running
    running.close()


@SHORT_RUN
@given(request=requests())
def test_hostile_requests_do_no_harm(harness: Harness, request: FuzzRequest) -> None:
    harness.send(request)
    assert harness.findings.clean, describe(harness.findings)


def test_the_oracle_knows_the_tricks() -> None:
    """The fuzzer's own idea of a protected path (independent of ``core/paths.py``)."""
    for path in ["/private", "//private", "/%2Fprivate", "/x/../api/y", "/%252Fapi", "/\\private"]:
        assert looks_protected(path), path
    for path in ["//api/../x", "///private/%2E%2E/y"]:  # Werkzeug: merged, dots kept
        assert looks_protected(path), path
    for path in ["/privateer", "/public", "/apix"]:
        assert not looks_protected(path), path


def test_the_harness_notices_harm() -> None:
    """The checks can fail: a request that carries Alice's real cookie and signs her out
    is reported as an unowned change, and an app reached on a protected path while signed
    out is reported as served."""
    from tests.support.fuzz import ALICE, APP, COOKIE

    harness = Harness("wsgi", "memory")
    try:
        harness.send(
            FuzzRequest(
                method="POST",
                path="/sign-out",
                query=(),
                cookies=((COOKIE, ALICE),),
                headers=(("origin", APP), ("sec-fetch-site", "same-origin")),
                body=b"",
                owns_bob=False,
            )
        )
        assert harness.findings.unowned_changes
        harness.wsgi._is_protected = lambda path: False
        harness.send(FuzzRequest("GET", "/private", (), (), (), b"", False))
        assert harness.findings.protected_served
    finally:
        harness.close()


@pytest.mark.parametrize("mount", ["", "/app"])
def test_the_harness_knows_a_foreign_redirect_and_a_stray_cookie(mount: str) -> None:
    """The redirect and cookie checks can fail: what a browser would take off the site,
    and a cookie named by the request or without our flags, are reported."""
    from tests.support.fuzz import APP, COOKIE, ISSUER, OPEN_REDIRECTS

    harness = Harness("wsgi", "memory", mount)
    try:
        ours = "Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        good = [
            ("Location", mount + "/sign-in?return_to=%2Fprivate"),
            ("Location", APP + mount + "/sign-in?return_to=/x"),
            ("Location", ISSUER + "/authorize?x=1"),
            ("Set-Cookie", f"{COOKIE}=; {ours}"),
            ("Set-Cookie", f"{COOKIE}.tx.{'A' * 16}=v; {ours}"),
            ("Set-Cookie", f"{COOKIE}.so=v; {ours}"),
        ]
        harness._check_redirects_and_cookies("good", good)
        assert harness.findings.clean, describe(harness.findings)
        foreign = ["//evil.example", "///evil.example", "/\\evil.example", "/\t/evil.example"]
        foreign += ["/x\r\nSet-Cookie: planted=1", "/x\nLocation: https://evil.example"]
        bad = [("Location", mount + target) for target in foreign]
        bad += [("Location", target) for target in OPEN_REDIRECTS if not target.startswith("/")]
        bad += [("Location", "http://app.fuzz.evil.example/"), ("Location", "/x" if mount else "")]
        harness._check_redirects_and_cookies("bad", bad)
        assert len(harness.findings.foreign_redirects) == len(bad)
        harness._check_redirects_and_cookies(
            "cookies",
            [
                ("Set-Cookie", f"planted=1; {ours}"),
                ("Set-Cookie", f"{COOKIE}.tx.a; Domain=evil.example=v; {ours}"),
                ("Set-Cookie", f"{COOKIE}=v; Path=/; HttpOnly"),
            ],
        )
        assert len(harness.findings.stray_cookies) == 3
    finally:
        harness.close()
