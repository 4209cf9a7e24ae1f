"""Event hooks: the app's own code, called on sign-in, sign-out and session end.

A hook is a plain or ``async`` callable taking one event. The core asks the driver to call
it (the ``RunHook`` effect); the driver runs a plain hook in a worker thread under ASGI
and an ``async`` one to completion under WSGI. A hook that raises is logged and never
leaves a half-signed-in session: ``on_sign_in`` runs before the session is stored, so a
failing or rejecting hook stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import events
from .effects import Flow, Log, RunHook
from .end_reason import EndReason


@dataclass(frozen=True, slots=True)
class SignInEvent:
    """A user has proven who they are; the session is not stored yet. ``user`` holds the
    ID token's claims as ``ctx.user`` will."""

    user: Mapping[str, Any]
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SignOutEvent:
    """The user signed out (the sign-out route, or ``client.sign_out``)."""

    user: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SessionEndEvent:
    """A session ended, and why: ``signed_out``, ``expired``, ``refresh_rejected``,
    ``revoked``, ``logged_out_by_provider`` or ``refresh_lost``. Sessions that end by time
    are noticed at their next request."""

    reason: EndReason
    user: Mapping[str, Any]


class SignInRejected(Exception):
    """Raise it from ``on_sign_in`` to refuse the user: no session is stored, and the
    browser gets a 403 page showing the message."""

    def __init__(self, message: str = "This account may not sign in here."):
        super().__init__(message)
        self.message = message


Hook = Callable[[Any], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Hooks:
    """``ThunderIDConfig(hooks=Hooks(on_sign_in=..., ...))``; each may be ``async``."""

    on_sign_in: Callable[[SignInEvent], Awaitable[None] | None] | None = field(
        default=None, repr=False
    )
    on_sign_out: Callable[[SignOutEvent], Awaitable[None] | None] | None = field(
        default=None, repr=False
    )
    on_session_end: Callable[[SessionEndEvent], Awaitable[None] | None] | None = field(
        default=None, repr=False
    )


def run_hook(hook: Hook | None, event: object, name: str) -> Flow[bool]:
    """Call ``hook``; False when it raised (logged as ``hook.failed``). ``SignInRejected``
    is the hook's answer, not a failure: it propagates."""
    if hook is None:
        return True
    try:
        yield RunHook(hook, event)
    except SignInRejected:
        raise
    except Exception as exc:
        yield Log(
            logging.ERROR,
            f"the {name} hook raised {type(exc).__name__}",
            events.HOOK_FAILED,
            (("hook", name),),
        )
        return False
    return True
