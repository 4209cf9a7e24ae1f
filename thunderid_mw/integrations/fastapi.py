"""FastAPI helpers: the Starlette ones plus ready-made annotated dependencies.

app = FastAPI()
app.add_middleware(ThunderIDASGIMiddleware, config_or_client=config)
app.add_exception_handler(AuthRefused, auth_refused_handler)

@app.get("/profile")
async def profile(auth: RequiredAuth):       # signed in, or redirect / 401
    return auth.user

@app.get("/admin")
async def admin(auth: Annotated[AuthContext, Depends(requires(roles="admin"))]):  # else 403
    ...

@app.get("/")
async def home(auth: CurrentAuth):           # anyone; auth.is_signed_in says which
    ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ..context import AuthContext
from .starlette import (
    AuthRefused,
    Forbidden,
    SignInRequired,
    auth_refused_handler,
    get_auth,
    require_auth,
    requires,
    sign_in_required,
    sign_in_required_handler,
)

#: The request's context, signed in or not.
CurrentAuth = Annotated[AuthContext, Depends(get_auth)]
#: The context of a signed-in user; anyone else gets the middleware's sign-in answer.
RequiredAuth = Annotated[AuthContext, Depends(require_auth)]

__all__ = [
    "AuthRefused",
    "CurrentAuth",
    "Forbidden",
    "RequiredAuth",
    "SignInRequired",
    "auth_refused_handler",
    "get_auth",
    "require_auth",
    "requires",
    "sign_in_required",
    "sign_in_required_handler",
]
