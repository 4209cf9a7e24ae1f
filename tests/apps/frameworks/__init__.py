"""One tiny app per framework, each wrapped by the middleware with the test config
(``protected_paths=("/private", "/api")``): ``/public`` answers ``public``; ``/private``
and ``/api/data`` answer ``PROTECTED-CONTENT``. Served by real servers in
``tests/security/test_path_bypass.py``: whatever path an attacker sends, the protected
body must never reach a signed-out request."""

PROTECTED = "PROTECTED-CONTENT"
