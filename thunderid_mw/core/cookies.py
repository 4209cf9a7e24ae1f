"""Session and sign-in-transaction cookies: finding one value cheaply, and writing
``Set-Cookie`` headers with the configured flags (RFC 6265)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .config import ThunderIDConfig
from .crypto import b64url

SESSION_ID_BYTES = 32
SESSION_ID_LENGTH = 43  # base64url of 32 bytes, unpadded
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_TX_SUFFIX_RE = re.compile(r"[A-Za-z0-9_-]{16}")  # the first 16 characters of a state
MAX_COOKIE_HEADER = 16 * 1024


def new_session_id(random_bytes: bytes) -> str:
    if len(random_bytes) != SESSION_ID_BYTES:
        raise ValueError("a session id takes exactly 32 random bytes")
    return b64url(random_bytes)


def find_cookie(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, without parsing the others."""
    needle = name + "="
    start = 0
    while True:
        index = header.find(needle, start)
        if index < 0:
            return None
        if index == 0 or header[index - 1] in " ;":
            begin = index + len(needle)
            end = header.find(";", begin)
            value = header[begin:] if end < 0 else header[begin:end]
            return value.strip().strip('"')
        start = index + 1


def session_id_from_header(header: str | None, name: str) -> str | None:
    """The session id in the ``Cookie`` header, or None when absent or malformed (a
    garbage, oversized or truncated value is simply no session)."""
    if not header or name not in header or len(header) > MAX_COOKIE_HEADER:
        return None  # a browser with other cookies only: no parsing at all
    value = find_cookie(header, name)
    if value is None or len(value) != SESSION_ID_LENGTH or not _SESSION_ID_RE.fullmatch(value):
        return None
    return value


#: How many Cookie headers a ``SessionCookieReader`` remembers, and the longest it keeps.
REMEMBERED_HEADERS = 4096
REMEMBERED_HEADER_LENGTH = 2048


class SessionCookieReader:
    """``session_id_from_header`` for one cookie name, remembering recent answers.

    A browser sends the same ``Cookie`` header on each of its requests, and finding and
    checking the session id in it is most of a signed-in request's own cost. The memory is
    bounded: when full it is emptied (a flood of made-up headers costs only re-parsing).
    ASGI's raw header bytes are accepted too, so a remembered one is not even decoded."""

    __slots__ = ("_known", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._known: dict[str | bytes, str | None] = {}

    def session_id_in(self, header: str | bytes | None) -> str | None:
        """The session id in ``header`` (None: no session), as ``session_id_from_header``."""
        if not header:
            return None
        known = self._known.get(header, "")  # "" is never an answer: ids have 43 characters
        if known != "":
            return known
        text = header.decode("latin-1") if isinstance(header, bytes) else header
        session_id = session_id_from_header(text, self.name)
        if len(header) <= REMEMBERED_HEADER_LENGTH:
            if len(self._known) >= REMEMBERED_HEADERS:
                self._known.clear()
            self._known[header] = session_id
        return session_id


def iter_cookies(header: str | None, prefix: str) -> Iterator[tuple[str, str]]:
    """Every ``(name, value)`` whose name is ``prefix`` and a transaction suffix of the
    shape we write (slow path only). Other names are never returned, so a planted cookie
    can never make us emit a ``Set-Cookie`` for a name we did not choose."""
    if not header or len(header) > MAX_COOKIE_HEADER:
        return
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.startswith(prefix) and _TX_SUFFIX_RE.fullmatch(name[len(prefix) :]):
            yield name, value.strip().strip('"')


def set_cookie(
    config: ThunderIDConfig, name: str, value: str, *, max_age: int, path: str | None = None
) -> str:
    """A ``Set-Cookie`` value with the session cookie's flags; ``max_age=0`` deletes."""
    cookie = config.session_cookie
    parts = [f"{name}={value}", f"Path={path or cookie.path}", f"Max-Age={max_age}"]
    if max_age == 0:
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    if cookie.domain:
        parts.append(f"Domain={cookie.domain}")
    if cookie.http_only:
        parts.append("HttpOnly")
    if config.cookie_secure or cookie.same_site == "none":
        parts.append("Secure")
    parts.append("SameSite=" + cookie.same_site.capitalize())
    return "; ".join(parts)


def session_cookie(config: ThunderIDConfig, session_id: str) -> str:
    return set_cookie(config, config.cookie_name, session_id, max_age=int(config.session_max_age))


def clear_session_cookie(config: ThunderIDConfig) -> str:
    return set_cookie(config, config.cookie_name, "", max_age=0)


def transaction_cookie_prefix(config: ThunderIDConfig) -> str:
    return config.cookie_name + ".tx."


def sign_out_state_cookie(config: ThunderIDConfig) -> str:
    """The name of the cookie that binds an end-session request's ``state`` to the browser."""
    return config.cookie_name + ".so"
