"""A FastAPI (ASGI) app behind ThunderIDASGIMiddleware.

The same walk through the "Accessing Protected APIs" guide of the ThunderID Node.js SDK as
examples/flask_app.py, the asynchronous way: `AsyncThunderIDClient`, `httpx.AsyncClient`
and `asyncio.gather` for calls in parallel.

Run it (`.venv/bin/python examples/run_demo.py --asgi` does all of this
against a local test identity provider):

    export THUNDERID_BASE_URL=https://localhost:8090       # your ThunderID
    export THUNDERID_CLIENT_ID=... THUNDERID_CLIENT_SECRET=...
    export THUNDERID_AFTER_SIGN_IN_URL=http://127.0.0.1:5000/callback
    export THUNDERID_AFTER_SIGN_OUT_URL=http://127.0.0.1:5000/
    export THUNDERID_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    export PROFILE_API_URL=http://127.0.0.1:5001           # the protected API to call
    uvicorn examples.fastapi_app:app --port 5000

Pages: ``/`` (public), ``/profile`` (signed-in only), ``/api/dashboard`` (two API calls
in parallel), ``/api/me`` (the client outside a protected route),
``/api/exchanged-token`` (RFC 8693 token exchange); ``POST /switch-account`` and
``POST /revoke`` are the profile page's forms.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import os
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from thunderid_mw import (
    AsyncThunderIDClient,
    AuthContext,
    NotSignedIn,
    ThunderIDASGIMiddleware,
    ThunderIDConfig,
    TokenEndpointError,
    TokenExchangeConfig,
    token_exchange_params,
)
from thunderid_mw.integrations.fastapi import (
    CurrentAuth,
    RequiredAuth,
    SignInRequired,
    sign_in_required_handler,
)

# -- Set-up -------------------------------------------------------------------------------
# The configuration comes from THUNDERID_* environment variables (docs/configuration.md).
# One client per process, shared by the middleware and our own code (the Node SDK's
# `auth` object).
config = ThunderIDConfig.from_env()
auth = AsyncThunderIDClient(config)

PROFILE_API_URL = os.environ.get("PROFILE_API_URL", "http://127.0.0.1:5001").rstrip("/")

app = FastAPI(title="ThunderID FastAPI example")
# The middleware answers /sign-in, /callback and /sign-out itself and puts an AuthContext
# in every request's scope; the CurrentAuth / RequiredAuth dependencies read it.
app.add_middleware(ThunderIDASGIMiddleware, config_or_client=auth)
# RequiredAuth raises SignInRequired for a signed-out user: this handler sends exactly
# what the middleware sends (a browser is redirected to sign in, code gets 401 JSON).
app.add_exception_handler(SignInRequired, sign_in_required_handler)


# -- Retrieve the access token and call an API ----------------------------------------------
async def fetch_user_profile(session_id: str) -> dict[str, Any]:
    """The guide's `fetchUserProfile(sessionId)`. Outside a protected route, check the
    session first: `is_signed_in` refreshes an access token that is about to expire."""
    if not await auth.is_signed_in(session_id):
        raise NotSignedIn()
    access_token = await auth.get_access_token(session_id)
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.get(
            f"{PROFILE_API_URL}/users/me", headers={"Authorization": f"Bearer {access_token}"}
        )
    response.raise_for_status()
    return dict(response.json())


def api_client(ctx: AuthContext) -> httpx.AsyncClient:
    """An HTTP client calling the API as the signed-in user. `ctx.auth()` is an httpx.Auth
    that sends the session's fresh access token and, on a 401, refreshes once and retries
    once (one refresh for all the calls in flight)."""
    return httpx.AsyncClient(base_url=PROFILE_API_URL, auth=ctx.auth(), timeout=10.0)


async def form_of(request: Request, ctx: AuthContext) -> dict[str, str]:
    """A small urlencoded form, checked for the session's CSRF token (as sign-out is)."""
    form = dict(parse_qsl((await request.body()).decode()))
    expected = ctx.sign_out_csrf_token or ""
    if not expected or not hmac.compare_digest(form.get("csrf_token", ""), expected):
        raise HTTPException(403, "missing or wrong csrf_token")
    return form


# -- Pages ------------------------------------------------------------------------------------
def page(ctx: AuthContext, title: str, body: str = "") -> HTMLResponse:
    e = html.escape
    if ctx.is_signed_in:
        who = e(str(ctx.user.get("name") or ctx.user.get("sub")))
        status = f'<p>Signed in as <strong id="user-name">{who}</strong>.</p>'
        sign_out = (
            f'<form method="post" action="{e(ctx.sign_out_path)}">'
            f'<input type="hidden" name="csrf_token" value="{e(ctx.sign_out_csrf_token or "")}">'
            '<button type="submit" id="sign-out">Sign out</button></form>'
        )
    else:
        ended = ctx.ended_reason
        status = f'<p id="ended">Your session ended ({e(ended)}).</p>' if ended else ""
        status += f'<p><a id="sign-in" href="{e(ctx.sign_in_path("/profile"))}">Sign in</a></p>'
        sign_out = ""
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        '</head><body><nav><a href="/">Home</a> · <a href="/profile">Profile</a></nav>'
        f"<h1>{e(title)}</h1>{status}{body}{sign_out}</body></html>"
    )


@app.get("/", response_class=HTMLResponse)
async def home(ctx: CurrentAuth) -> HTMLResponse:
    return page(ctx, "ThunderID FastAPI example")


@app.get("/profile", response_class=HTMLResponse)
async def profile(ctx: RequiredAuth) -> HTMLResponse:
    # Call a protected API from a route. The middleware has already refreshed the access
    # token if it was about to expire.
    async with api_client(ctx) as api:
        response = await api.get("/users/me")
    response.raise_for_status()
    e = html.escape
    claims = "".join(
        f'<tr><th>{e(name)}</th><td class="claim-{e(name)}">{e(str(value))}</td></tr>'
        for name, value in ctx.user.items()
    )
    csrf = f'<input type="hidden" name="csrf_token" value="{e(ctx.sign_out_csrf_token or "")}">'
    body = f"""
<h2>ID token claims</h2><table id="claims">{claims}</table>
<h2>The protected API's view of you</h2>
<pre id="api-profile">{e(json.dumps(response.json(), indent=2))}</pre>
<p><a href="/api/dashboard">Dashboard data</a> (two API calls in parallel) ·
   <a href="/api/me">/api/me</a> (the client outside a protected route) ·
   <a href="/api/exchanged-token">RFC 8693 token exchange</a></p>
<h2>Switch account</h2>
<form method="post" action="/switch-account">{csrf}
  <input name="username" placeholder="username (empty: same user)">
  <button type="submit" id="switch-account">Switch</button></form>
<h2>Revoke the access token</h2>
<form method="post" action="/revoke">{csrf}
  <button type="submit" id="revoke">Revoke and end the session</button></form>"""
    return page(ctx, "Profile", body)


@app.get("/api/dashboard")
async def dashboard(ctx: RequiredAuth) -> dict[str, Any]:
    # Several requests in parallel (the guide's Promise.all): asyncio.gather. If the token
    # has to be renewed meanwhile, the calls share one refresh.
    async with api_client(ctx) as api:
        profile, organizations = await asyncio.gather(
            api.get("/users/me"), api.get("/organizations")
        )
    profile.raise_for_status()
    organizations.raise_for_status()
    return {"profile": profile.json(), "organizations": organizations.json()["organizations"]}


@app.get("/api/me")
async def me(request: Request) -> Any:
    # Not protected: this route looks the session up itself, as code outside a protected
    # route would (a background task...). The session id is the cookie's value.
    session_id = request.cookies.get(config.cookie_name)
    try:
        if session_id is None:
            raise NotSignedIn()
        return await fetch_user_profile(session_id)
    except NotSignedIn:
        return JSONResponse({"error": "not_signed_in"}, status_code=401)


@app.post("/switch-account")
async def switch_account(request: Request, ctx: RequiredAuth) -> Any:
    form = await form_of(request, ctx)
    # The guide's token exchange: ThunderID's `account_switch` grant. With
    # returns_session=True the session now holds the new tokens (and the new user's
    # claims); {{accessToken}}, {{clientId}} and {{scopes}} are filled in for us.
    data = {
        "client_id": "{{clientId}}",
        "grant_type": "account_switch",
        "scope": "{{scopes}}",
        "token": "{{accessToken}}",
    }
    if username := form.get("username", "").strip():
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
        await ctx.exchange_token(exchange)  # under ASGI, context actions are awaited
    except TokenEndpointError as exc:  # carries the endpoint's error and error_description
        return JSONResponse(
            {"error": exc.error, "error_description": exc.error_description}, status_code=400
        )
    return RedirectResponse("/profile", status_code=303)


@app.get("/api/exchanged-token")
async def exchanged_token(ctx: RequiredAuth) -> dict[str, Any]:
    # RFC 8693 token exchange: trade the user's access token for a narrower one (only the
    # `openid` scope) and call the API with it. The session keeps its own tokens.
    params = token_exchange_params(ctx.require_access_token(), scope="openid")
    result = await ctx.exchange_token(TokenExchangeConfig(id="rfc8693", data=params))
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.get(
            f"{PROFILE_API_URL}/users/me",
            headers={"Authorization": f"Bearer {result['access_token']}"},
        )
    return {
        "issued_token_type": result.get("issued_token_type"),
        "scope": result.get("scope"),
        "expires_in": result.get("expires_in"),
        "api_sees": response.json(),
    }


@app.post("/revoke")
async def revoke(request: Request, ctx: RequiredAuth) -> RedirectResponse:
    await form_of(request, ctx)
    # Revoke the access (and refresh) token at the provider (RFC 7009) and end the session
    # here. The sign-out button revokes too, then also ends the session at the provider.
    await ctx.revoke_access_token()
    return RedirectResponse("/", status_code=303)
