"""What every framework helper's test app (``tests/apps/*_views.py`` and friends) answers
under a real server: ``/public`` for anyone, ``/profile`` behind ``login_required``,
``/named`` behind a requirement the user meets, ``/admin`` behind ``roles="admin"``
(which alice lacks). The framework tests check it here, then what is their own."""

from __future__ import annotations

import httpx

from tests.support.docs import csrf_token
from tests.support.idp import IdP
from tests.support.servers import Server, sign_in

BROWSER = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
API = {"Accept": "application/json"}


def check_signed_out(server: Server, public: str, protected: str = "/profile") -> None:
    """A signed-out browser is sent to sign in and back (query kept), code gets 401."""
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/public").text == public.format(False)
        browser = anonymous.get(f"{protected}?tab=1", headers=BROWSER)
        assert browser.status_code == 302
        # WebOb (Pyramid) makes every Location absolute, on the request's own origin.
        location = browser.headers["location"].removeprefix(server.url)
        assert location == f"/sign-in?return_to=%2F{protected[1:]}%3Ftab%3D1"
        api = anonymous.get("/admin", headers=API)
        assert api.status_code == 401 and api.json()["error"] == "not_signed_in"
        assert api.headers["www-authenticate"].startswith("Bearer")


def check_signed_in(server: Server, idp: IdP, public: str) -> httpx.Client:
    """alice reaches the views she may see and gets 403 at ``/admin`` (JSON for code, an
    HTML page with a way back for a browser); her client is returned for the framework's
    own checks."""
    alice = sign_in(server.url, idp, "alice", return_to="/profile")
    assert alice.get("/public").text == public.format(True)
    assert alice.get("/profile", headers=API).json()["sub"] == "user-alice"
    assert alice.get("/named").text == "named"
    forbidden = alice.get("/admin", headers=API)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
    page = alice.get("/admin", headers=BROWSER)
    assert page.status_code == 403, page.text
    assert page.headers["content-type"].startswith("text/html"), page.headers
    assert "href=" in page.text, page.text  # a way back
    return alice


def sign_out(client: httpx.Client) -> None:
    """Sign out through the confirmation page's form; afterwards code gets 401."""
    token = csrf_token(client.get("/sign-out").text)
    out = client.post("/sign-out", data={"csrf_token": token})
    assert out.status_code == 303, out.text
    assert client.get("/profile", headers=API).status_code == 401
