"""Protected paths: code (fetch, XHR, API clients) gets 401 JSON with WWW-Authenticate and
never a redirect to a login page; a browser navigation is sent to sign in; public paths
answer either way. Same answers from gunicorn (WSGI) and uvicorn (ASGI)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.flows import assert_clean_error

HTML = "text/html,application/xhtml+xml,*/*;q=0.8"

# Requests made by code. Where a browser would also send an HTML Accept header, the
# fetch-metadata / XHR header alone must decide.
API_REQUESTS = {
    "accept-json": {"Accept": "application/json"},
    "sec-fetch-mode-cors": {"Sec-Fetch-Mode": "cors", "Accept": HTML},
    "sec-fetch-dest-empty": {"Sec-Fetch-Dest": "empty", "Accept": HTML},
    "x-requested-with": {"X-Requested-With": "XMLHttpRequest", "Accept": HTML},
}
NAVIGATIONS = {
    "accept-html": {"Accept": HTML},
    "sec-fetch-mode-navigate": {"Sec-Fetch-Mode": "navigate", "Accept": "*/*"},
}


@pytest.mark.parametrize("headers", API_REQUESTS.values(), ids=API_REQUESTS.keys())
@pytest.mark.parametrize("path", ["/private", "/api/whoami", "/private/deeper?x=1"])
def test_api_requests_get_401_json(
    client: httpx.Client, path: str, headers: dict[str, str]
) -> None:
    response = client.get(path, headers=headers)
    assert_clean_error(response, 401, "not_signed_in", api=True)
    assert "location" not in response.headers
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="thunderid"'), challenge
    assert client.get("/public", headers=headers).status_code == 200


@pytest.mark.parametrize("headers", NAVIGATIONS.values(), ids=NAVIGATIONS.keys())
def test_browser_navigations_are_sent_to_sign_in(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.get("/private/deeper?x=1", headers=headers)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/sign-in?return_to=%2Fprivate%2Fdeeper%3Fx%3D1"
    public = client.get("/public", headers=headers)
    assert public.status_code == 200
    assert public.text.startswith("public signed_in=False")


def test_lookalike_paths_are_not_protected(client: httpx.Client) -> None:
    """``/private`` protects ``/private/...``, not ``/privateer``."""
    assert client.get("/privateer", headers={"Accept": "application/json"}).status_code == 404
