"""Thin helpers for web frameworks. Each module imports its framework, so import the one
you use: ``thunderid_mw.integrations.flask``, ``thunderid_mw.integrations.starlette`` or
``thunderid_mw.integrations.fastapi``. They hold no authentication rules of their own:
they read the request's ``AuthContext`` and answer an unauthenticated request exactly as
the middleware answers one on a ``protected_paths`` path (a browser is redirected to
sign in and back, code gets 401 with ``WWW-Authenticate``)."""
