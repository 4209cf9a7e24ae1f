"""Who may see a page once signed in: scopes, claims, group or role membership.

A ``Requirement`` is data; ``unmet`` says which parts of it a session does not meet (empty
means allowed); ``forbidden`` is the 403 answer, distinct from the 401/redirect that
``handler.challenge`` gives a signed-out request. Every helper in ``integrations/`` asks
these two functions, so the rule is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .responses import Response, error_response


class _Request(Protocol):
    """What ``refusal`` reads of a ``handler.RequestInfo`` (not imported: no cycle)."""

    @property
    def is_api(self) -> bool: ...

    @property
    def mount(self) -> str: ...


def _frozen(values: str | Iterable[str]) -> frozenset[str]:
    return frozenset((values,) if isinstance(values, str) else values)


@dataclass(frozen=True, slots=True)
class Requirement:
    """All of ``scopes``; every claim in ``claims`` with one of its accepted values (an
    empty set: the claim only has to be present and truthy); at least one of ``groups``
    and at least one of ``roles`` when they are given. The group and role claim names are
    ``groups`` and ``roles`` unless named otherwise; they may be lists or space-separated
    strings."""

    scopes: frozenset[str] = frozenset()
    # (claim name, accepted values) pairs, sorted: a tuple keeps the requirement hashable
    # (Pyramid hashes view permissions).
    claims: tuple[tuple[str, frozenset[str]], ...] = ()
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    groups_claim: str = "groups"
    roles_claim: str = "roles"

    @classmethod
    def of(
        cls,
        *,
        scopes: str | Iterable[str] = (),
        claims: Mapping[str, str | Iterable[str]] | None = None,
        groups: str | Iterable[str] = (),
        roles: str | Iterable[str] = (),
        groups_claim: str = "groups",
        roles_claim: str = "roles",
    ) -> Requirement:
        """A requirement from plain strings and lists (``scopes="read"`` is one scope)."""
        return cls(
            scopes=_frozen(scopes),
            claims=tuple(sorted((name, _frozen(v)) for name, v in (claims or {}).items())),
            groups=_frozen(groups),
            roles=_frozen(roles),
            groups_claim=groups_claim,
            roles_claim=roles_claim,
        )


def _claim_values(value: Any, *, words: bool = False) -> frozenset[str]:
    """A claim as a set of strings: a list claim is its members, a string itself (or, with
    ``words``, its space-separated words, OAuth ``scope`` style), other scalars their
    ``str`` (booleans as ``true``)."""
    if value is None or value is False or value == "":
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split()) if words else frozenset({value})
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(str(v) for v in value)
    return frozenset({str(value).lower() if isinstance(value, bool) else str(value)})


def unmet(requirement: Requirement, user: Mapping[str, Any], scopes: Sequence[str]) -> list[str]:
    """What ``requirement`` asks that a session with ID-token claims ``user`` and granted
    ``scopes`` lacks, one short phrase each (no claim values: they may be personal)."""
    missing = [f"scope {s}" for s in sorted(requirement.scopes - set(scopes))]
    for name, accepted in requirement.claims:
        have = _claim_values(user.get(name))
        if not have or (accepted and not accepted & have):
            missing.append(f"claim {name}")
    for claim, wanted, what in (
        (requirement.groups_claim, requirement.groups, "group"),
        (requirement.roles_claim, requirement.roles, "role"),
    ):
        if wanted and not wanted & _claim_values(user.get(claim), words=True):
            missing.append(f"{what} ({' or '.join(sorted(wanted))})")
    return missing


def forbidden(missing: Sequence[str], *, api: bool, mount: str = "") -> Response:
    """403 for a signed-in user who lacks ``missing``: JSON for code, a page with a way
    back for browsers."""
    message = "You are signed in but not allowed to see this page."
    if missing:
        message += " Missing: " + ", ".join(missing) + "."
    return error_response(403, "forbidden", message, api=api, links=[("Home", mount + "/")])


def refusal(
    requirements: Iterable[Requirement],
    user: Mapping[str, Any],
    scopes: Sequence[str],
    request: Callable[[], _Request],
) -> Response | None:
    """The adapters' check of ``path_requirements`` for a signed-in request: ``None`` when
    every one is met, else ``forbidden`` (``request`` is only built then)."""
    missing = list(dict.fromkeys(m for req in requirements for m in unmet(req, user, scopes)))
    if not missing:
        return None
    info = request()
    return forbidden(missing, api=info.is_api, mount=info.mount)


__all__ = ["Requirement", "forbidden", "refusal", "unmet"]
