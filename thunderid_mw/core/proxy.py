"""The public origin of a request (scheme and host the browser used), honouring
``Forwarded`` (RFC 7239) and ``X-Forwarded-Proto``/``X-Forwarded-Host`` only when the
request comes straight from a configured trusted proxy: anyone else could send them.

The value nearest to us (the last one) is the one our proxy added; earlier values came
from the client or from proxies we know nothing about."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``ValueError`` for an entry that is not an address or a network (CIDR)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def is_trusted(peer: str | None, networks: tuple[Network, ...]) -> bool:
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False  # a unix socket path, say: not an address we were told to trust
    return any(address in network for network in networks)


def public_origin(
    scheme: str,
    host: str | None,
    peer: str | None,
    header: Callable[[str], str | None],
    networks: tuple[Network, ...],
) -> str:
    """``scheme://host`` as the browser saw it; ``""`` when the host is unknown."""
    if is_trusted(peer, networks):
        forwarded = _last_forwarded(header("forwarded"))
        proto = forwarded.get("proto") or _last(header("x-forwarded-proto"))
        fwd_host = forwarded.get("host") or _last(header("x-forwarded-host"))
        if proto in ("http", "https"):
            scheme = proto
        if fwd_host:
            host = fwd_host
    if not host or any(ch in host for ch in "/\\@ \t\r\n"):
        return ""
    host = host.lower()
    default_port = {"http": ":80", "https": ":443"}.get(scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return f"{scheme}://{host}"


def _last(value: str | None) -> str | None:
    if not value:
        return None
    return value.rsplit(",", 1)[-1].strip() or None


def _last_forwarded(value: str | None) -> dict[str, str]:
    """The parameters of the last element of a ``Forwarded`` header."""
    if not value:
        return {}
    element = value.rsplit(",", 1)[-1]
    params: dict[str, str] = {}
    for pair in element.split(";"):
        name, _, raw = pair.partition("=")
        params[name.strip().lower()] = raw.strip().strip('"')
    return params
