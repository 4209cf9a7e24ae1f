"""The exceptions thunderid_mw raises. One small hierarchy, rooted at ``ThunderIDError``."""

from __future__ import annotations


class ThunderIDError(Exception):
    """Base class of every error raised by thunderid_mw."""


class ConfigError(ThunderIDError):
    """The configuration is incomplete or inconsistent (raised at start-up)."""


class ProviderError(ThunderIDError):
    """The identity provider could not be reached or answered with something unusable."""


class OutcomeUnknown(ProviderError):
    """The request may have reached the provider but no answer came (a read timeout, a
    connection lost after sending): whatever it did is unknown. A refresh that ends so is
    never retried with the same refresh token."""


class ProviderMisconfigured(ProviderError):
    """The provider answered, but not as the configuration says it would: ``https://`` for
    a plain-http server, another issuer. Retrying cannot help; the configuration must
    change."""


class TLSVerificationError(ProviderError):
    """The provider's TLS certificate was not trusted (see ``ThunderIDConfig.ca_bundle``)."""


class TokenEndpointError(ThunderIDError):
    """The token endpoint answered with an OAuth error (RFC 6749 section 5.2)."""

    def __init__(self, error: str, error_description: str | None = None, status: int = 400):
        self.error = error
        self.error_description = error_description
        self.status = status
        text = error if not error_description else f"{error}: {error_description}"
        super().__init__(text)


class IDTokenError(ThunderIDError):
    """An ID token failed validation (signature, iss, aud, exp, iat or nonce)."""


class SignInError(ThunderIDError):
    """A sign-in could not be completed (bad or missing state, error from the IdP, ...).

    ``code`` is a short machine-readable reason, e.g. ``"state_mismatch"``.
    """

    def __init__(self, code: str, message: str, status: int = 400):
        self.code = code
        self.status = status
        super().__init__(message)


class NotSignedIn(ThunderIDError):
    """The session does not exist, has ended, or has no usable tokens."""

    def __init__(self, message: str = "The user is not signed in.", reason: str | None = None):
        self.reason = reason
        super().__init__(message)


class StoreUnavailable(ThunderIDError):
    """The session store could not be reached (e.g. Redis is down or paused)."""


class StoreContention(StoreUnavailable):
    """The store is up, but other requests kept changing the same session while this one
    tried to save it (compare-and-set lost every retry). Retrying shortly succeeds; the
    middleware answers 503 with ``Retry-After``, not an identity-provider error."""

    def __init__(self, message: str, retry_after: int = 1):
        self.retry_after = retry_after
        super().__init__(message)


class RefreshUnavailable(ThunderIDError):
    """A refresh could not be completed now but may succeed later (IdP down, lock wait
    timed out); ``retry_after`` is a hint in seconds."""

    def __init__(self, message: str, retry_after: int = 5):
        self.retry_after = retry_after
        super().__init__(message)
