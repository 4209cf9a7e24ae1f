"""OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ProviderError, ProviderMisconfigured


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    end_session_endpoint: str | None = None
    iss_parameter_supported: bool = False
    # Pushed authorization requests (RFC 9126 5).
    pushed_authorization_request_endpoint: str | None = None
    require_pushed_authorization_requests: bool = False
    id_token_signing_alg_values_supported: tuple[str, ...] = ("RS256",)

    @classmethod
    def from_json(cls, doc: dict[str, Any], expected_issuer: str | None) -> ProviderMetadata:
        """Validate a discovery document; ``expected_issuer`` is what the issuer must be
        (OpenID Connect Discovery 4.3), compared without a trailing slash."""

        def required(name: str) -> str:
            value = doc.get(name)
            if not isinstance(value, str) or not value:
                raise ProviderError(f"the discovery document has no {name}")
            return value

        def optional(name: str) -> str | None:
            value = doc.get(name)
            return value if isinstance(value, str) and value else None

        issuer = required("issuer")
        if expected_issuer is not None and issuer.rstrip("/") != expected_issuer.rstrip("/"):
            raise ProviderMisconfigured(
                f"the discovery document names issuer {issuer!r}, expected {expected_issuer!r}"
                " (correct base_url (THUNDERID_BASE_URL), or set issuer (THUNDERID_ISSUER) if the "
                "provider's issuer differs from base_url)"
            )
        algs = doc.get("id_token_signing_alg_values_supported")
        return cls(
            issuer=issuer,
            authorization_endpoint=required("authorization_endpoint"),
            token_endpoint=required("token_endpoint"),
            jwks_uri=required("jwks_uri"),
            userinfo_endpoint=optional("userinfo_endpoint"),
            revocation_endpoint=optional("revocation_endpoint"),
            introspection_endpoint=optional("introspection_endpoint"),
            end_session_endpoint=optional("end_session_endpoint"),
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported")
            is True,
            pushed_authorization_request_endpoint=optional("pushed_authorization_request_endpoint"),
            require_pushed_authorization_requests=doc.get("require_pushed_authorization_requests")
            is True,
            id_token_signing_alg_values_supported=tuple(
                a for a in algs if isinstance(a, str) and a != "none"
            )
            if isinstance(algs, list) and algs
            else ("RS256",),
        )

    def endpoints(self) -> dict[str, str | None]:
        """The endpoints by name, as ``get_openid_provider_endpoints`` returns them."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "userinfo_endpoint": self.userinfo_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "introspection_endpoint": self.introspection_endpoint,
            "end_session_endpoint": self.end_session_endpoint,
        }
