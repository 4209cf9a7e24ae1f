"""The IO a flow asks for, as small frozen records (sans-IO).

A flow is a generator: it yields an effect, and the driver (``ThunderIDClient`` or
``AsyncThunderIDClient``) performs it and sends the result back in. One flow therefore
serves both the sync and the async driver: the auth rules exist once. A driver that fails
to perform an effect throws the error into the flow, so ``finally`` blocks still run (and
may yield, e.g. to release a lock).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A request to the provider. Result: ``HttpResult`` or ``HttpFailure`` (never raises)."""

    method: str
    url: str
    purpose: str  # "token endpoint", "revocation endpoint", ... for error messages
    headers: Mapping[str, str]
    form: Mapping[str, str] | None = None
    timeout: float | None = None  # None: the configured http_timeout
    # A lease to keep alive (renewed by the driver) for as long as the call is in flight.
    keep_lease: LeaseHold | None = None
    # Add a signed RFC 7523 client assertion to the form (private_key_jwt).
    client_assertion: bool = False
    # Add a DPoP proof made with this private JWK (RFC 9449), retried once with a nonce.
    dpop_key: str | None = field(default=None, repr=False)
    # The DPoP-bound access token the request presents: its hash goes in the proof (ath).
    dpop_access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class LeaseHold:
    name: str
    owner: str
    lease: float


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    body: bytes
    date: float | None = None  # the answer's Date header (the provider's clock), Unix time


@dataclass(frozen=True, slots=True)
class HttpFailure:
    message: str
    tls: bool = False  # the provider's certificate was not trusted
    wrong_scheme: bool = False  # https:// pointed at a plain-http server
    # The request may have reached the provider (a read timeout, a connection lost after
    # sending): its effect is unknown. False only when it certainly was not sent
    # (connection refused, DNS, TLS handshake).
    sent: bool = False


@dataclass(frozen=True, slots=True)
class Load:
    key: str


@dataclass(frozen=True, slots=True)
class Save:
    key: str
    data: bytes
    expires_at: float
    expected_version: int | None


@dataclass(frozen=True, slots=True)
class Delete:
    key: str


@dataclass(frozen=True, slots=True)
class AcquireLock:
    """Take the store lease ``name``; result ``bool``. The driver first takes an in-process
    lock of the same name (threads or tasks of this process queue there, not on the store)."""

    name: str
    owner: str
    lease: float
    wait: float  # how long to queue for the in-process lock


@dataclass(frozen=True, slots=True)
class ReleaseLock:
    name: str
    owner: str


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Now:
    """Result: the current Unix time (float seconds)."""


@dataclass(frozen=True, slots=True)
class RandomBytes:
    size: int


@dataclass(frozen=True, slots=True)
class NewDPoPKey:
    """Result: a new private key for one session's DPoP proofs, as JWK JSON text."""


@dataclass(frozen=True, slots=True)
class GetKeySet:
    """Result: the provider's JWKS as a joserfc ``KeySet``; ``refresh`` forces a new fetch
    (a token names a key id we do not know: the provider rotated its keys)."""

    refresh: bool = False


@dataclass(frozen=True, slots=True)
class GetMetadata:
    """Result: the provider's ``ProviderMetadata`` (discovery, cached by the driver);
    raises ``ProviderError`` when the provider cannot be discovered."""


@dataclass(frozen=True, slots=True)
class Log:
    """One line on the ``thunderid_mw`` logger: a stable ``event`` name (core/events.py),
    a readable cause, and short fields (a session tag, a client id; never a secret).
    Drivers render it with ``logging_extra`` below."""

    level: int
    message: str
    event: str = "thunderid_mw"
    fields: tuple[tuple[str, str], ...] = ()

    def logging_extra(self) -> dict[str, Any]:
        """``extra=`` for ``Logger.log``: the event name and the fields, for structured
        handlers (one attribute each, so a JSON formatter sees them)."""
        return {"event": self.event, "event_fields": dict(self.fields)}


@dataclass(frozen=True, slots=True)
class StartRefresh:
    """Refresh session ``key`` in the background (a thread or a task) unless this process
    is refreshing it already; result ``bool``: whether a refresh was started. The request
    does not wait for it (it polls the store if it must)."""

    key: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class RefreshFailedAt:
    """Result: when this process's last background refresh of ``key`` failed (the provider
    was unavailable), or 0.0."""

    key: str


@dataclass(frozen=True, slots=True)
class RunHook:
    """Call one of the app's hooks (core/hooks.py) with ``event``; result None. A plain
    hook runs in a worker thread under an event loop; an ``async`` one is awaited."""

    hook: Callable[[Any], Any]
    event: object


Effect = (
    HttpCall
    | Load
    | Save
    | Delete
    | AcquireLock
    | ReleaseLock
    | Sleep
    | Now
    | RandomBytes
    | NewDPoPKey
    | GetKeySet
    | GetMetadata
    | Log
    | StartRefresh
    | RefreshFailedAt
    | RunHook
)

Flow = Generator[Effect, Any, T]


def drive(flow: Flow[T], perform: Callable[[Effect], Any], *, max_steps: int | None = None) -> T:
    """Run ``flow`` to its end, performing each effect with ``perform``: the one blocking
    trampoline, used by ``ThunderIDClient`` and by the core tests' fake world
    (``adrive`` is its awaiting twin). An exception raised while performing an effect is
    thrown into the flow, so its ``finally`` blocks run (a lock is released even on
    cancellation); the flow re-raises what it does not handle. ``max_steps`` bounds a
    test run."""
    value: Any = None
    error: BaseException | None = None
    steps = 0
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if max_steps is not None:
            steps += 1
            if steps > max_steps:
                flow.close()
                raise RuntimeError(f"the flow did not finish within {max_steps} effects")
        value, error = None, None
        try:
            value = perform(effect)
        except BaseException as exc:
            error = exc


async def adrive(flow: Flow[T], perform: Callable[[Effect], Awaitable[Any]]) -> T:
    """``drive`` for ``AsyncThunderIDClient``: the same loop, each effect awaited."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            value = await perform(effect)
        except BaseException as exc:
            error = exc


__all__ = [
    "AcquireLock",
    "Delete",
    "Effect",
    "Flow",
    "GetKeySet",
    "GetMetadata",
    "HttpCall",
    "HttpFailure",
    "HttpResult",
    "LeaseHold",
    "Load",
    "Log",
    "Now",
    "RandomBytes",
    "RefreshFailedAt",
    "ReleaseLock",
    "RunHook",
    "Save",
    "Sleep",
    "StartRefresh",
    "adrive",
    "drive",
]
