"""httpx glue: client settings and error messages (the only module that knows httpx
errors). TLS failures name ``ThunderIDConfig.ca_bundle``: ThunderID runs with a
self-signed certificate by default."""

from __future__ import annotations

import ssl
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .core.config import ThunderIDConfig
from .core.effects import HttpCall, HttpFailure, HttpResult

USER_AGENT = "thunderid-mw/0.1"


def client_options(config: ThunderIDConfig) -> dict[str, Any]:
    verify: bool | str | ssl.SSLContext = config.verify_tls
    if config.ca_bundle:
        verify = ssl.create_default_context(cafile=config.ca_bundle)
    return {
        "verify": verify,
        "timeout": httpx.Timeout(config.http_timeout),
        "follow_redirects": False,
        "headers": {"User-Agent": USER_AGENT},
        "limits": httpx.Limits(max_connections=50, max_keepalive_connections=10),
    }


def request_args(call: HttpCall, client_assertion: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"headers": dict(call.headers)}
    if call.form is not None:
        args["data"] = dict(call.form)
        if client_assertion is not None:
            args["data"]["client_assertion"] = client_assertion
    if call.timeout is not None:
        args["timeout"] = httpx.Timeout(call.timeout)
    return args


def may_have_reached_provider(exc: httpx.HTTPError) -> bool:
    """False only when the request certainly was not sent: no connection was made
    (refused, DNS, TLS handshake, connect timeout) or none was free in the pool."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def date_header(response: httpx.Response) -> float | None:
    """The ``Date`` header as Unix time (the provider's clock), if it has a valid one."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def describe_failure(exc: Exception, url: str) -> str:
    """A one-line message for a transport error; TLS problems say how to fix them."""
    text = str(exc) or type(exc).__name__
    if _is_wrong_scheme(exc):
        return (
            f"{url} does not speak TLS ({text}): the URL says https:// but the server "
            "answers plain http. Use http:// in the URL, or enable TLS on the provider."
        )
    if _is_tls_error(exc):
        return (
            f"TLS verification failed for {url} ({text}). If the provider uses a self-signed "
            "certificate (ThunderID's default on https://localhost:8090), set "
            "ThunderIDConfig.ca_bundle (THUNDERID_CA_BUNDLE) to its CA certificate file."
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out calling {url}"
    return f"could not reach {url}: {text}"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _is_wrong_scheme(exc: BaseException) -> bool:
    """https:// pointed at a plain-http server: OpenSSL reads the HTTP answer as a bad
    TLS record (``WRONG_VERSION_NUMBER``; ``record layer failure`` on OpenSSL 3.2+ with
    some servers). This is not a certificate problem."""
    return any(
        "WRONG_VERSION_NUMBER" in str(seen) or "wrong version number" in str(seen)
        for seen in _causes(exc)
    )


def _is_tls_error(exc: BaseException) -> bool:
    if _is_wrong_scheme(exc):
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_tls_error(exc: BaseException) -> bool:
    return _is_tls_error(exc)


def failure_of(exc: httpx.HTTPError, url: str) -> HttpFailure:
    """The effect result of a request that got no answer."""
    return HttpFailure(
        describe_failure(exc, url),
        tls=is_tls_error(exc),
        wrong_scheme=_is_wrong_scheme(exc),
        sent=may_have_reached_provider(exc),
    )


def result_of(response: httpx.Response) -> HttpResult:
    """The effect result of an answer."""
    return HttpResult(response.status_code, response.content, date_header(response))
