"""One Redis, two servers: a session signed in on one process is signed in on the other.

gunicorn (WSGI app, 4 workers) and uvicorn (ASGI app, 2 workers) run on different ports with
the same THUNDERID_SECRET and THUNDERID_STORE=redis://…; the browser's cookie is all that
travels between them.
"""

from __future__ import annotations

import pytest

from tests.redis.harness import Pair, get, sign_in_many, sign_out, token_at
from tests.support.idp import IdP


@pytest.mark.parametrize("signed_in_on", ["gunicorn", "uvicorn"])
def test_a_cookie_from_one_server_works_on_the_other(
    pair: Pair, idp_reset: IdP, signed_in_on: str
) -> None:
    home, other = pair.urls if signed_in_on == "gunicorn" else reversed(pair.urls)
    (cookie,) = sign_in_many(idp_reset, [(home, "bob")])

    seen = {}
    for url in (home, other):
        whoami = get(url, cookie, "/api/whoami")
        assert whoami.status_code == 200, whoami.text
        seen[url] = (whoami.json()["sub"], token_at(url, cookie))
        page = get(url, cookie, "/private", api=False)
        assert page.status_code == 200 and "sub=user-bob" in page.text
    assert seen[home] == seen[other] == (idp_reset.subjects["bob"], seen[home][1])


def test_sign_out_on_one_server_ends_the_session_on_the_other(pair: Pair, idp_reset: IdP) -> None:
    (cookie,) = sign_in_many(idp_reset, [(pair.wsgi.url, "alice")])
    assert get(pair.asgi.url, cookie, "/api/whoami").status_code == 200

    response = sign_out(pair.asgi.url, cookie)
    assert response.status_code == 303, response.text

    ended = get(pair.wsgi.url, cookie, "/api/whoami")
    assert ended.status_code == 401, ended.text
    public = get(pair.wsgi.url, cookie, "/public")
    assert public.status_code == 200
    assert "signed_in=False" in public.text and "signed_out" in public.text.lower()
