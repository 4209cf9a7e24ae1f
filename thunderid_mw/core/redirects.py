"""Local-only return URLs: the model is Django's ``url_has_allowed_host_and_scheme``,
restricted further to paths on this app (no host at all)."""

from __future__ import annotations

from urllib.parse import urlsplit

from .paths import header_safe_url

MAX_RETURN_TO = 2048


def safe_return_to(value: str | None) -> str | None:
    """``value`` if it is a path on this site (percent-encoded where it must be, so it can
    stand in a ``Location`` header), else None.

    Rejected: absolute URLs, scheme-relative ``//host``, backslash tricks (``/\\host``, which
    browsers read as ``//host``), control characters and over-long values.
    """
    if not value:
        return None
    if len(value) > MAX_RETURN_TO or not value.startswith("/"):
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    if value.startswith("//") or value.startswith("/\\") or "\\" in value[:2]:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return header_safe_url(value)
