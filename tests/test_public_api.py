"""The public surface is pinned: ``thunderid_mw.__all__`` is exactly what docs/api.md
documents, every name in it imports, and ``__version__`` is the installed version."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import thunderid_mw

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
# A documented name: the first backticked name of a table row (`A`, `B` rows name several).
ROW = re.compile(r"^\| ((?:`\w+`(?:, )?)+) \|", re.M)


def documented_names() -> set[str]:
    names: set[str] = set()
    for cell in ROW.findall(API_PAGE.read_text()):
        names.update(re.findall(r"`(\w+)`", cell))
    return names


def test_the_page_is_parsed() -> None:
    assert {"AuthContext", "ThunderIDConfig", "TokenExchangeConfig"} <= documented_names()


def test_all_is_what_the_docs_document() -> None:
    exported = set(thunderid_mw.__all__)
    assert sorted(exported - documented_names()) == [], "exported but not in docs/api.md"
    assert sorted(documented_names() - exported) == [], "in docs/api.md but not exported"
    assert len(thunderid_mw.__all__) == len(exported)


def test_every_exported_name_exists() -> None:
    missing = [name for name in thunderid_mw.__all__ if not hasattr(thunderid_mw, name)]
    assert missing == []


def test_version_is_the_installed_version() -> None:
    assert thunderid_mw.__version__ == importlib.metadata.version("thunderid-mw")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", thunderid_mw.__version__)


# What users call on a client: the Node SDK's methods, the middleware's entry points, the
# typed actions, and two values (its config and the signed-out context). Keys, codec,
# store, router and flows are internals, behind an underscore.
CLIENT_API = {
    "access_token_for",
    "actions",
    "config",
    "context_for_cookie",
    "context_for_session",
    # The token source's DPoP side, for ThunderIDAuth (ctx.auth()).
    "dpop_nonce_asked",
    "dpop_proof",
    "end_user_sessions",
    "exchange_token",
    "get_access_token",
    "get_decoded_id_token",
    "get_id_token",
    "get_openid_provider_endpoints",
    "get_sign_in_url",
    "get_user",
    "handle_route",
    "is_signed_in",
    "list_user_sessions",
    "refresh_access_token",
    "revoke_access_token",
    "sign_in",
    "sign_out",
    "signed_out",
}


def public_names(client: object) -> set[str]:
    return {name for name in dir(client) if not name.startswith("_")}


def test_the_clients_public_attributes_are_what_users_need() -> None:
    config = thunderid_mw.ThunderIDConfig(
        client_id="app",
        after_sign_in_url="http://127.0.0.1:8000/callback",
        secret="public-api-test-secret-0123456789abcdef",
        store="memory://",
    )
    sync_client = thunderid_mw.ThunderIDClient(config)
    async_client = thunderid_mw.AsyncThunderIDClient(config)
    assert public_names(sync_client) == CLIENT_API | {"close"}
    assert public_names(async_client) == CLIENT_API | {"aclose", "blocking_token_source"}
    sync_client.close()
