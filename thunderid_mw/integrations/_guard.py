"""One view decorator for sync and async views: ask ``authorize`` first, run the view only
when it says yes. Framework modules supply how to find the request's carrier (environ or
scope) and how to turn the core's ``Response`` into theirs."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from ..core.authorization import Requirement
from ..core.responses import Response
from . import Carrier, authorize

F = TypeVar("F", bound=Callable[..., Any])


def requirement_of(
    scopes: str | Iterable[str],
    claims: Mapping[str, str | Iterable[str]] | None,
    groups: str | Iterable[str],
    roles: str | Iterable[str],
    acr: str | Iterable[str] = (),
    max_age: int | None = None,
) -> Requirement | None:
    requirement = Requirement.of(
        scopes=scopes, claims=claims, groups=groups, roles=roles, acr=acr, max_age=max_age
    )
    return None if requirement == Requirement() else requirement


def guard(
    view: F,
    requirement: Requirement | None,
    carrier_of: Callable[..., Carrier],
    answer: Callable[[Response], Any],
) -> F:
    """``view`` wrapped: ``carrier_of(*args, **kwargs)`` finds the request; a refusal is
    sent as ``answer(response)``. An ``async def`` view stays a coroutine function."""
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            refusal = authorize(carrier_of(*args, **kwargs), requirement)
            if refusal is not None:
                return answer(refusal)
            return await view(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refusal = authorize(carrier_of(*args, **kwargs), requirement)
        if refusal is not None:
            return answer(refusal)
        return view(*args, **kwargs)

    return cast(F, wrapper)


class ViewGuards:
    """A framework's ``require`` and ``login_required`` view decorators, from how it finds
    the request's carrier and how it sends the core's answer."""

    def __init__(self, carrier_of: Callable[..., Carrier], answer: Callable[[Response], Any]):
        self._carrier_of = carrier_of
        self._answer = answer

    def require(
        self,
        *,
        scopes: str | Iterable[str] = (),
        claims: Mapping[str, str | Iterable[str]] | None = None,
        groups: str | Iterable[str] = (),
        roles: str | Iterable[str] = (),
        acr: str | Iterable[str] = (),
        max_age: int | None = None,
    ) -> Callable[[F], F]:
        """Run the view (sync or async) only for a signed-in user with all ``scopes``, the
        ``claims`` (name -> accepted values), one of ``groups`` and one of ``roles``; others
        get what the middleware answers: redirect to sign-in / 401, or 403. A user whose
        ``acr`` is not one of ``acr``, or who authenticated more than ``max_age`` seconds
        ago, is sent to authenticate again (step-up) and back."""
        requirement = requirement_of(scopes, claims, groups, roles, acr, max_age)
        return lambda view: guard(view, requirement, self._carrier_of, self._answer)

    def login_required(self, view: F) -> F:
        """Run ``view`` (sync or async) only for a signed-in user."""
        return guard(view, None, self._carrier_of, self._answer)
