"""Who may see a page once signed in: scopes, claims, group or role membership, and how
(``acr``) and how recently (``max_age``) the user authenticated.

A ``Requirement`` is data; ``unmet`` says which parts of it a session does not meet (empty
means allowed); ``forbidden`` is the 403 answer, distinct from the 401/redirect that
``handler.challenge`` gives a signed-out request. ``step_up`` says which re-authentication
would meet the ``acr``/``max_age`` parts and ``step_up_answer`` sends the user through it
(RFC 9470 for code). Every helper in ``integrations/`` asks ``refusal``, so the rule is
written once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from .responses import Response, error_response, redirect


class _Request(Protocol):
    """What ``refusal`` reads of a ``handler.RequestInfo`` (not imported: no cycle)."""

    @property
    def is_api(self) -> bool: ...

    @property
    def mount(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def query_string(self) -> str: ...


# An acr value as /sign-in forwards it and a WWW-Authenticate challenge quotes it.
ACR_VALUE = re.compile(r"[A-Za-z0-9:._/-]{1,200}")


class _Settings(Protocol):
    """What the step-up answer reads of a ``ThunderIDConfig`` (not imported: no cycle)."""

    @property
    def sign_in_path(self) -> str: ...

    @property
    def sign_in_acr_values(self) -> tuple[str, ...] | None: ...

    @property
    def clock_skew(self) -> int: ...


def _frozen(values: str | Iterable[str]) -> frozenset[str]:
    return frozenset((values,) if isinstance(values, str) else values)


@dataclass(frozen=True, slots=True)
class Requirement:
    """All of ``scopes``; every claim in ``claims`` with one of its accepted values (an
    empty set: the claim only has to be present and truthy); at least one of ``groups``
    and at least one of ``roles`` when they are given. The group and role claim names are
    ``groups`` and ``roles`` unless named otherwise; they may be lists or space-separated
    strings. ``acr``: the ID token's ``acr`` must be one of these; ``max_age``: the user
    authenticated (``auth_time``) at most this many seconds ago. A user who misses only
    these two is sent to authenticate again (step-up), not refused."""

    scopes: frozenset[str] = frozenset()
    # (claim name, accepted values) pairs, sorted: a tuple keeps the requirement hashable
    # (Pyramid hashes view permissions).
    claims: tuple[tuple[str, frozenset[str]], ...] = ()
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    groups_claim: str = "groups"
    roles_claim: str = "roles"
    acr: frozenset[str] = frozenset()
    max_age: int | None = None

    def __post_init__(self) -> None:
        for value in self.acr:
            if not ACR_VALUE.fullmatch(value):
                raise ValueError(f"acr value {value!r} must match {ACR_VALUE.pattern}")
        if self.max_age is not None and (isinstance(self.max_age, bool) or self.max_age < 0):
            raise ValueError(f"max_age must be a number of seconds >= 0, got {self.max_age!r}")

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
        acr: str | Iterable[str] = (),
        max_age: int | None = None,
    ) -> Requirement:
        """A requirement from plain strings and lists (``scopes="read"`` is one scope)."""
        return cls(
            scopes=_frozen(scopes),
            claims=tuple(sorted((name, _frozen(v)) for name, v in (claims or {}).items())),
            groups=_frozen(groups),
            roles=_frozen(roles),
            groups_claim=groups_claim,
            roles_claim=roles_claim,
            acr=_frozen(acr),
            max_age=max_age,
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


@dataclass(frozen=True, slots=True)
class StepUp:
    """The re-authentication that would meet a requirement's ``acr``/``max_age``: the
    ``acr_values`` (space-separated, "" for none) and ``max_age`` to ask the provider for."""

    acr_values: str = ""
    max_age: int | None = None


def auth_time_of(claims: Mapping[str, Any]) -> float | None:
    """The ``auth_time`` claim when it is a number (a JSON ``true`` is not)."""
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, int | float) and not isinstance(auth_time, bool):
        return auth_time
    return None


def authenticated_too_long_ago(
    auth_time: float, max_age: int, *, now: float, leeway: float
) -> bool:
    """More than ``max_age`` seconds, plus the clock-skew ``leeway``, since ``auth_time``:
    the one rule for a requirement's ``max_age`` and for the callback's check of it."""
    return now - auth_time > max_age + leeway


def step_up(
    requirements: Iterable[Requirement], user: Mapping[str, Any], *, now: float, leeway: float
) -> StepUp | None:
    """``None`` when the session's ``acr`` and ``auth_time`` meet every requirement, else
    what to ask for: the first unmet ``acr`` set and the smallest unmet ``max_age``.
    ``leeway`` (the configured clock skew) is the one the callback allows, so a fresh
    re-authentication always meets the requirement that asked for it."""
    acr: frozenset[str] = frozenset()
    max_age: int | None = None
    have_acr = user.get("acr")
    auth_time = auth_time_of(user)
    for requirement in requirements:
        if requirement.acr and not acr and have_acr not in requirement.acr:
            acr = requirement.acr
        if requirement.max_age is not None and (
            auth_time is None
            or authenticated_too_long_ago(auth_time, requirement.max_age, now=now, leeway=leeway)
        ):
            max_age = requirement.max_age if max_age is None else min(max_age, requirement.max_age)
    if not acr and max_age is None:
        return None
    return StepUp(" ".join(sorted(acr)), max_age)


def step_up_answer(need: StepUp, request: _Request, config: _Settings) -> Response:
    """A browser (GET) goes to sign in again with ``acr_values``/``max_age`` and comes
    back; code gets 401 with RFC 9470's ``insufficient_user_authentication``. When the
    site's own allow-list (``sign_in_acr_values``) would drop the acr, a 403 says so:
    re-authenticating could never meet it."""
    wanted = need.acr_values.split()
    allowed = config.sign_in_acr_values
    if allowed is not None and not set(wanted) <= set(allowed):
        return error_response(
            403,
            "step_up_not_allowed",
            "This page needs a kind of sign-in that this site is not set up to request "
            "(its acr is not in sign_in_acr_values). The site's operators can fix this.",
            api=request.is_api,
            links=[("Home", request.mount + "/")],
        )
    params = {"acr_values": need.acr_values} if wanted else {}
    if need.max_age is not None:
        params["max_age"] = str(need.max_age)
    target = request.mount + request.path
    if request.query_string:
        target += "?" + request.query_string
    sign_in = (
        request.mount + config.sign_in_path + "?return_to=" + quote(target, safe="")
        + "&" + urlencode({**params, "prompt": "login"})
    )  # fmt: skip
    if request.is_api or request.method not in ("GET", "HEAD"):
        challenge = 'Bearer realm="thunderid", error="insufficient_user_authentication", '
        challenge += 'error_description="A more recent or stronger authentication is needed"'
        challenge += "".join(f', {name}="{value}"' for name, value in params.items())
        return error_response(
            401,
            "insufficient_user_authentication",
            "Please authenticate again to see this page.",
            api=request.is_api,
            headers=[("WWW-Authenticate", challenge)],
            links=[("Sign in again", sign_in)],
        )
    return redirect(sign_in, [])


def forbidden(missing: Sequence[str], *, api: bool, mount: str = "") -> Response:
    """403 for a signed-in user who lacks ``missing``: JSON for code, a page with a way
    back for browsers."""
    message = "You are signed in but not allowed to see this page."
    if missing:
        message += " Missing: " + ", ".join(missing) + "."
    return error_response(403, "forbidden", message, api=api, links=[("Home", mount + "/")])


def refusal(
    requirements: Sequence[Requirement],
    user: Mapping[str, Any],
    scopes: Sequence[str],
    request: Callable[[], _Request],
    *,
    config: _Settings,
    now: Callable[[], float],
) -> Response | None:
    """The check of ``path_requirements`` and the helpers' requirements for a signed-in
    request: ``None`` when every one is met, else ``forbidden`` (re-authenticating cannot
    give a scope or a role) or else ``step_up_answer`` (``request`` and ``now`` are only
    called then)."""
    missing = list(dict.fromkeys(m for req in requirements for m in unmet(req, user, scopes)))
    if missing:
        info = request()
        return forbidden(missing, api=info.is_api, mount=info.mount)
    need = step_up_needed(requirements, user, config=config, now=now)
    return None if need is None else step_up_answer(need, request(), config)


def step_up_needed(
    requirements: Sequence[Requirement],
    user: Mapping[str, Any],
    *,
    config: _Settings,
    now: Callable[[], float],
) -> StepUp | None:
    """``step_up`` with the configured leeway; the clock is read only when a requirement
    asks for an ``acr`` or a ``max_age``."""
    if not any(req.acr or req.max_age is not None for req in requirements):
        return None
    return step_up(requirements, user, now=now(), leeway=config.clock_skew)


__all__ = [
    "Requirement",
    "StepUp",
    "auth_time_of",
    "authenticated_too_long_ago",
    "forbidden",
    "refusal",
    "step_up",
    "step_up_answer",
    "step_up_needed",
    "unmet",
]
