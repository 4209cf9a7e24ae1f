"""The HTML the small framework examples share: a home page (sign-in link, or the
user's name and the sign-out form) and a profile page (the user's claims). Every value
from a token is escaped: a user can edit their own claims."""

from __future__ import annotations

from html import escape

from thunderid_mw import AuthContext


def sign_out_form(auth: AuthContext) -> str:
    """A POST form to the middleware's sign-out path, carrying the session's CSRF token."""
    return (
        f'<form id="sign-out" method="post" action="{escape(auth.sign_out_path)}">'
        f'<input type="hidden" name="csrf_token" value="{escape(auth.sign_out_csrf_token or "")}">'
        "<button>Sign out</button></form>"
    )


def home_page(auth: AuthContext) -> str:
    if not auth.is_signed_in:
        return f'<a id="sign-in" href="{escape(auth.sign_in_path("/profile"))}">Sign in</a>'
    name = escape(str(auth.user.get("name", auth.user.get("sub", ""))))
    return f"<p>Hello, {name}</p>{sign_out_form(auth)}"


def profile_page(auth: AuthContext) -> str:
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td class="claim-{escape(k)}">{escape(str(v))}</td></tr>'
        for k, v in sorted(auth.user.items())
    )
    return f"<table>{rows}</table>{sign_out_form(auth)}"
