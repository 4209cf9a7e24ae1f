"""A Flask (WSGI) app behind ThunderIDWSGIMiddleware.

It walks through the "Accessing Protected APIs" guide of the ThunderID Node.js SDK, in
Python: call a protected API with the signed-in user's access token, make several calls
in parallel, use the client outside a protected route, exchange tokens, and revoke them.

Run it (`make demo` does all of this for you, against a local test identity provider):

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:8000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:8000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    gunicorn --workers 2 examples.flask_app:app

Pages: ``/`` (public), ``/profile`` (signed-in only: claims, the API's view of the user,
and the forms that switch account, revoke and sign out), ``/api/dashboard`` (two API
calls in parallel), ``/api/me`` (the client used outside a protected route),
``/api/exchanged-token`` (RFC 8693 token exchange).
"""

from __future__ import annotations

import hmac
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from flask import Flask, abort, jsonify, redirect, render_template_string, request

from thunderid_mw import (
    NotSignedIn,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
    TokenEndpointError,
    TokenExchangeConfig,
    token_exchange_params,
)
from thunderid_mw.integrations.flask import current_auth, login_required

# -- Set-up -------------------------------------------------------------------------------
# The configuration comes from THUNDERID_* environment variables (docs/configuration.md).
# One client per process: the middleware uses it, and so can any code of ours (the Node
# SDK's `auth` object). Every worker shares the session store (SQLite by default).
config = ThunderIDConfig.from_env()
auth = ThunderIDClient(config)

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")

app = Flask(__name__)
# The middleware answers /sign-in, /callback and /sign-out itself, and puts an AuthContext
# in every request (read it with current_auth()).
app.wsgi_app = ThunderIDWSGIMiddleware(app.wsgi_app, auth)  # type: ignore[method-assign]

# For calls in parallel (see /api/dashboard).
pool = ThreadPoolExecutor(max_workers=8)


# -- Retrieve the access token and call an API ----------------------------------------------
def fetch_user_profile(session_id: str) -> dict[str, Any]:
    """The guide's `fetchUserProfile(sessionId)`: any code holding a session id can call
    the API for that user. Outside a protected route, check the session first:
    `is_signed_in` refreshes an access token that is about to expire, like the Node SDK's
    `isSignedIn`, so the token we then take is usable."""
    if not auth.is_signed_in(session_id):
        raise NotSignedIn()
    access_token = auth.get_access_token(session_id)
    response = httpx.get(
        f"{PROFILE_API_URL}/users/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10.0,
    )
    response.raise_for_status()
    return dict(response.json())


def api_client() -> httpx.Client:
    """An HTTP client calling the API as the current user. `ctx.auth()` is an httpx.Auth
    that sends the session's (fresh) access token and, if the API answers 401, refreshes
    the token once and retries once."""
    return httpx.Client(base_url=PROFILE_API_URL, auth=current_auth().auth(), timeout=10.0)


def check_csrf() -> None:
    """Our own state-changing forms carry the session's CSRF token, like sign-out's."""
    sent = request.form.get("csrf_token", "")
    expected = current_auth().sign_out_csrf_token or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(403)


# -- Pages ------------------------------------------------------------------------------------
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<nav><a href="/">Home</a> · <a href="/profile">Profile</a></nav>
<h1>{{ title }}</h1>
{% if ctx.is_signed_in %}
  <p>Signed in as <strong id="user-name">{{ ctx.user.get("name") or ctx.user["sub"] }}</strong>.</p>
{% else %}
  {% if ctx.ended_reason %}<p id="ended">Your session ended ({{ ctx.ended_reason }}).</p>{% endif %}
  <p><a id="sign-in" href="{{ ctx.sign_in_path('/profile') }}">Sign in</a></p>
{% endif %}
{{ body|safe }}
{% if ctx.is_signed_in %}
  <form method="post" action="{{ ctx.sign_out_path }}">
    <input type="hidden" name="csrf_token" value="{{ ctx.sign_out_csrf_token }}">
    <button type="submit" id="sign-out">Sign out</button>
  </form>
{% endif %}
</body></html>"""

PROFILE = """
<h2>ID token claims</h2>
<table id="claims">
{% for name, value in ctx.user.items() %}
  <tr><th>{{ name }}</th><td class="claim-{{ name }}">{{ value }}</td></tr>
{% endfor %}
</table>
<h2>The protected API's view of you</h2>
<pre id="api-profile">{{ api_profile | tojson(indent=2) }}</pre>
<p><a href="/api/dashboard">Dashboard data</a> (two API calls in parallel) ·
   <a href="/api/me">/api/me</a> (the client outside a protected route) ·
   <a href="/api/exchanged-token">RFC 8693 token exchange</a></p>
<h2>Switch account</h2>
<form method="post" action="/switch-account">
  <input type="hidden" name="csrf_token" value="{{ ctx.sign_out_csrf_token }}">
  <input name="username" placeholder="username (empty: same user)">
  <button type="submit" id="switch-account">Switch</button>
</form>
<h2>Revoke the access token</h2>
<form method="post" action="/revoke">
  <input type="hidden" name="csrf_token" value="{{ ctx.sign_out_csrf_token }}">
  <button type="submit" id="revoke">Revoke and end the session</button>
</form>
"""


@app.get("/")
def home() -> str:
    ctx = current_auth()  # every request has one, signed in or not
    return render_template_string(PAGE, title="ThunderID Flask example", ctx=ctx, body="")


@app.get("/profile")
@login_required  # a browser is sent to sign in and back here; code gets 401
def profile() -> str:
    ctx = current_auth()
    # Call a protected API from a route. The middleware has already refreshed the access
    # token if it was about to expire, so it is good to use.
    with api_client() as api:
        response = api.get("/users/me")
        response.raise_for_status()
        api_profile = response.json()
    body = render_template_string(PROFILE, ctx=ctx, api_profile=api_profile)
    return render_template_string(PAGE, title="Profile", ctx=ctx, body=body)


@app.get("/api/dashboard")
@login_required
def dashboard() -> Any:
    # Several requests in parallel (the guide's Promise.all): a thread pool runs them;
    # one httpx.Client is safe to share between threads. If the token has to be renewed
    # meanwhile, the calls share one refresh.
    with api_client() as api:
        profile_call = pool.submit(api.get, "/users/me")
        organizations_call = pool.submit(api.get, "/organizations")
        profile, organizations = profile_call.result(), organizations_call.result()
    profile.raise_for_status()
    organizations.raise_for_status()
    return jsonify(profile=profile.json(), organizations=organizations.json()["organizations"])


@app.get("/api/me")
def me() -> Any:
    # Not protected: this route looks the session up itself, as code outside a protected
    # route would (a background job, a CLI...). The session id is the cookie's value.
    session_id = request.cookies.get(config.cookie_name)
    try:
        if session_id is None:
            raise NotSignedIn()
        return jsonify(fetch_user_profile(session_id))
    except NotSignedIn:
        return jsonify(error="not_signed_in"), 401


@app.post("/switch-account")
@login_required
def switch_account() -> Any:
    check_csrf()
    # The guide's token exchange: ThunderID's `account_switch` grant. With
    # returns_session=True the session now holds the new tokens (and the new user's
    # claims); {{accessToken}}, {{clientId}} and {{scopes}} are filled in for us.
    data = {
        "client_id": "{{clientId}}",
        "grant_type": "account_switch",
        "scope": "{{scopes}}",
        "token": "{{accessToken}}",
    }
    if username := request.form.get("username", "").strip():
        data["username"] = username
    exchange = TokenExchangeConfig(
        id="account-switch",
        data=data,
        attach_token=False,
        return_response=True,
        returns_session=True,
        sign_in_required=True,
    )
    try:
        current_auth().exchange_token(exchange)
    except TokenEndpointError as exc:  # carries the endpoint's error and error_description
        return jsonify(error=exc.error, error_description=exc.error_description), 400
    return redirect("/profile", code=303)


@app.get("/api/exchanged-token")
@login_required
def exchanged_token() -> Any:
    # RFC 8693 token exchange: trade the user's access token for a narrower one (only the
    # `openid` scope) and call the API with it. The session keeps its own tokens.
    ctx = current_auth()
    params = token_exchange_params(ctx.require_access_token(), scope="openid")
    result = ctx.exchange_token(TokenExchangeConfig(id="rfc8693", data=params))
    response = httpx.get(
        f"{PROFILE_API_URL}/users/me",
        headers={"Authorization": f"Bearer {result['access_token']}"},
        timeout=10.0,
    )
    return jsonify(
        issued_token_type=result.get("issued_token_type"),
        scope=result.get("scope"),
        expires_in=result.get("expires_in"),
        api_sees=response.json(),
    )


@app.post("/revoke")
@login_required
def revoke() -> Any:
    check_csrf()
    # Revoke the access (and refresh) token at the provider (RFC 7009) and end the session
    # here. Signing out through the sign-out form revokes too, then also ends the session
    # at the provider.
    current_auth().revoke_access_token()
    return redirect("/", code=303)
