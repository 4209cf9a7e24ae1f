"""Request paths as frameworks route them, and URLs that are safe in a header.

The protection decision must hold for every way a framework could route a path: Werkzeug
merges repeated slashes (and leaves dot segments to a ``<path:...>`` converter, so
``//api/../x`` reaches ``/api/<path:rest>``), some routers resolve dot segments, and a
server may decode ``%2F`` before routing. So a path is protected when any of its routable
forms is.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

# RFC 3986 section 2: unreserved and reserved characters, plus "%" so that an already
# percent-encoded value stays as it is. Everything else (non-ASCII, spaces, quotes,
# control characters) is percent-encoded as UTF-8.
_URL_SAFE = "/?#[]@!$&'()*+,;=:-._~%"


def collapse(path: str) -> str:
    """``path`` with repeated slashes merged and ``.``/``..`` segments resolved (RFC 3986
    section 5.2.4); a trailing slash is kept."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    result = "/" + "/".join(segments)
    if segments and (path.endswith("/") or path.endswith("/.") or path.endswith("/..")):
        result += "/"
    return result


def merge_slashes(path: str) -> str:
    """``path`` with repeated slashes merged and nothing else changed (Werkzeug's routing)."""
    while "//" in path:
        path = path.replace("//", "/")
    return path


def is_plain(path: str) -> bool:
    """True when ``path`` can only be routed as written (the hot path: no generator)."""
    return (
        path[:1] == "/" and "//" not in path and "/." not in path and "%" not in path
        and "\\" not in path
    )  # fmt: skip


def routable_forms(path: str) -> tuple[str, ...]:
    """Every form of ``path`` a framework might route: as sent, normalised, and normalised
    after percent-decoding (``/%2Fprivate``) or with backslashes read as slashes."""
    if is_plain(path):
        return (path,)
    forms = {path, collapse(path), merge_slashes(path)}
    decoded = path
    for _ in range(3):  # %252F decodes in two steps; three covers any double encoding
        decoded = unquote(decoded)
        for form in (decoded, decoded.replace("\\", "/")):
            forms.add(collapse(form))
            forms.add(merge_slashes(form))
    return tuple(forms)


def app_relative(path: str, root_path: str) -> str:
    """The path below an ASGI app's mount point (``root_path``): ASGI servers include the
    root path in ``scope["path"]``, WSGI servers keep it out of ``PATH_INFO``."""
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest or "/"
    return path


def mount_prefix(root_path: str) -> str:
    """A mount prefix (``SCRIPT_NAME`` / ``root_path``) in one form: no trailing slash."""
    return root_path.rstrip("/")


def header_safe_url(url: str) -> str:
    """``url`` with every character that is not allowed in a URL percent-encoded (UTF-8),
    so it can stand in a ``Location`` header (latin-1 for WSGI and ASGI servers)."""
    return quote(url, safe=_URL_SAFE, errors="replace")
