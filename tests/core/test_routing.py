"""``Router``: the protection answer is remembered per path, within a bound, and stays right
for every path however many made-up ones came before."""

from __future__ import annotations

from thunderid_mw.core.routing import PROTECTION_MEMORY, REMEMBERED_PATH_LENGTH, Router

from .driver import make_config


def test_protection_answers_stay_right_through_a_flood_of_paths() -> None:
    router = Router(make_config(protected_paths=("/private",)))
    assert router.is_protected("/private") and router.is_protected("//private")
    for n in range(PROTECTION_MEMORY * 2 + 7):
        assert not router.is_protected(f"/public/{n}")
        assert len(router.protection_known) <= PROTECTION_MEMORY
    assert router.is_protected("/private/x") and router.is_protected("/%2Fprivate")
    assert not router.is_protected("/privateer")


def test_long_paths_are_answered_but_not_remembered() -> None:
    router = Router(make_config(protected_paths=("/private",)))
    long_private = "/private/" + "x" * REMEMBERED_PATH_LENGTH
    assert router.is_protected(long_private) and router.is_protected("/" + long_private)
    assert not router.is_protected("/public/" + "x" * REMEMBERED_PATH_LENGTH)
    assert router.protection_known == {}
