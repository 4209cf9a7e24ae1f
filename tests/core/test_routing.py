"""``Router``: the protection answer is remembered per path, within a bound, and stays right
for every path however many made-up ones came before."""

from __future__ import annotations

from thunderid_mw.core.routing import PROTECTION_MEMORY, Router

from .driver import make_config


def test_protection_answers_stay_right_through_a_flood_of_paths() -> None:
    router = Router(make_config(protected_paths=("/private",)))
    assert router.is_protected("/private") and router.is_protected("//private")
    for n in range(PROTECTION_MEMORY * 2 + 7):
        assert not router.is_protected(f"/public/{n}")
        assert len(router._protection) <= PROTECTION_MEMORY
    assert router.is_protected("/private/x") and router.is_protected("/%2Fprivate")
    assert not router.is_protected("/privateer")
