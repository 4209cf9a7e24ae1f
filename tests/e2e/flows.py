"""Browser-like steps for the end-to-end tests: start a sign-in, log in at the IdP, read
``Set-Cookie`` headers, and check that an error answer is clean (no traceback, the right
status, HTML for a browser, JSON for code)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from tests.support.idp import IdP

COOKIE = "__thunderid__session"
TX_PREFIX = COOKIE + ".tx."

# What a browser sends when the user navigates, and what fetch()/XHR/API clients send.
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}
API = {"Accept": "application/json"}


@dataclass
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str] = field(default_factory=dict)  # lower-case name -> value ("" flag)

    @property
    def deleted(self) -> bool:
        return self.attrs.get("max-age") == "0"


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """The response's ``Set-Cookie`` headers by cookie name."""
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = header.split(";")
        name, _, value = first.strip().partition("=")
        attrs = {}
        for part in rest:
            key, _, val = part.strip().partition("=")
            attrs[key.lower()] = val
        found[name] = SetCookie(name, value, attrs)
    return found


def relative(url: str) -> str:
    """Path and query of ``url`` (to replay an absolute redirect against a test client)."""
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def with_query(url: str, **changes: str | None) -> str:
    """``url`` with query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    params = query_of(url)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), ""))


@dataclass
class Started:
    """A sign-in started by ``GET /sign-in``: where the browser goes, and its transaction."""

    response: httpx.Response
    authorize_url: str
    state: str
    tx_cookie: SetCookie


def begin_sign_in(
    client: httpx.Client,
    return_to: str = "/private",
    headers: dict[str, str] = BROWSER,
    tx_prefix: str = TX_PREFIX,
) -> Started:
    response = client.get("/sign-in", params={"return_to": return_to}, headers=headers)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    state = query_of(location)["state"]
    tx = set_cookies(response)[tx_prefix + state[:16]]
    return Started(response, location, state, tx)


def idp_callback(
    idp: IdP, authorize_url: str, username: str = "alice", browser: httpx.Client | None = None
) -> str:
    """Log in at the IdP; the app-relative callback URL it redirects to (not followed)."""
    if browser is None:
        with httpx.Client(verify=idp.verify, timeout=30.0) as fresh:
            return relative(idp.login(fresh, authorize_url, username))
    return relative(idp.login(browser, authorize_url, username))


def leave_idp(idp: IdP, browser: httpx.Client, url: str, max_steps: int = 8) -> str:
    """Follow the IdP's redirects from ``url`` until one leaves the IdP; return it."""
    for _ in range(max_steps):
        response = browser.get(url)
        assert response.is_redirect, (response.status_code, response.text[:500])
        url = urljoin(url, response.headers["location"])
        if not url.startswith(idp.issuer):
            return url
    raise AssertionError("the IdP kept redirecting to itself")


def assert_clean_error(response: httpx.Response, status: int, code: str, *, api: bool) -> None:
    """A clear error answer: exactly ``status``, naming ``code``, no traceback; JSON for
    code (``api``), an HTML page for a browser."""
    body = response.text
    assert response.status_code == status, (response.status_code, body[:1000])
    assert "Traceback" not in body and 'File "' not in body, body[:1000]
    content_type = response.headers.get("content-type", "")
    if api:
        assert content_type.startswith("application/json"), content_type
        data = json.loads(body)
        assert data["error"] == code, data
        assert data["message"], data
    else:
        assert content_type.startswith("text/html"), content_type
        assert "<html" in body and code in body, body[:1000]


def assert_signed_in(client: httpx.Client, sub: str) -> None:
    """``client``'s session works: the protected API answers with its user."""
    response = client.get("/api/whoami", headers=API)
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == sub


def assert_signed_out(base_url: str, cookie_value: str, ended: str | None = None) -> None:
    """A client presenting ``cookie_value`` is treated as signed out everywhere."""
    with httpx.Client(base_url=base_url, cookies={COOKIE: cookie_value}, timeout=15.0) as c:
        public = c.get("/public", headers=BROWSER)
        assert public.status_code == 200
        assert "signed_in=False" in public.text, public.text
        if ended is not None:
            assert f"ended={ended}" in public.text, public.text
        private = c.get("/private", headers=BROWSER)
        assert private.status_code == 302, private.text
        assert private.headers["location"] == "/sign-in?return_to=%2Fprivate"
        api = c.get("/api/whoami", headers=API)
        assert_clean_error(api, 401, "not_signed_in", api=True)
        assert api.headers["www-authenticate"].startswith("Bearer ")
