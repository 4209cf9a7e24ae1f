"""No repr() or str() of a public object shows a secret: the client secret, the master
secret, derived keys, a store password, or a token."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from thunderid_mw import (
    AsyncThunderIDClient,
    AuthContext,
    SessionCookieConfig,
    ThunderIDASGIMiddleware,
    ThunderIDAuth,
    ThunderIDClient,
    ThunderIDConfig,
    ThunderIDWSGIMiddleware,
    TokenExchangeConfig,
)
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenRequest, TokenSet
from thunderid_mw.stores import MemoryStore, RedisStore, SQLiteStore

CLIENT_SECRET = "client-secret-VALUE-1"
MASTER_SECRET = "master-secret-VALUE-0123456789-abcdef"
REDIS_PASSWORD = "redis-password-VALUE-2"
ACCESS = "access-token-VALUE-3"
REFRESH = "refresh-token-VALUE-4"
ID_TOKEN = "id-token-VALUE-5"
SECRETS = (CLIENT_SECRET, MASTER_SECRET, REDIS_PASSWORD, ACCESS, REFRESH, ID_TOKEN)


def _objects(tmp_path: Path) -> dict[str, Any]:
    redis_url = f"redis://user:{REDIS_PASSWORD}@127.0.0.1:1/0"
    config = ThunderIDConfig(
        client_id="app",
        client_secret=CLIENT_SECRET,
        after_sign_in_url="http://127.0.0.1:1/callback",
        secret=MASTER_SECRET,
        store=redis_url,
    )
    local = dataclasses.replace(config, store=MemoryStore())
    client = ThunderIDClient(local)
    async_client = AsyncThunderIDClient(local)
    tokens = TokenSet(ACCESS, refresh_token=REFRESH, id_token=ID_TOKEN, expires_at=1.0)
    ctx = AuthContext(
        client,
        session_id="s" * 43,
        user={"sub": "alice"},
        access_token=ACCESS,
        id_token=ID_TOKEN,
    )
    return {
        "config": config,
        "cookie config": SessionCookieConfig(),
        "exchange config": TokenExchangeConfig("x", {"client_secret": CLIENT_SECRET}),
        "client": client,
        "async client": async_client,
        "keys": client._keys,
        "codec": client._codec,
        "wsgi": ThunderIDWSGIMiddleware(lambda e, s: [], client),
        "asgi": ThunderIDASGIMiddleware(lambda s, r, w: None, async_client),  # type: ignore[arg-type,return-value]
        "memory store": MemoryStore(),
        "sqlite store": SQLiteStore(str(tmp_path / "s.sqlite3")),
        "redis store": RedisStore(redis_url),
        "tokens": tokens,
        "record": SessionRecord(tokens, {"sub": "alice"}, 0.0, 0.0, 1.0),
        "token request": TokenRequest(
            "http://idp/token",
            {"refresh_token": REFRESH, "client_secret": CLIENT_SECRET},
            {"Authorization": "Basic " + CLIENT_SECRET},
        ),
        "context": ctx,
        "httpx auth": ThunderIDAuth(client, "s" * 43),
    }


@pytest.mark.parametrize(
    "name",
    [
        "config",
        "cookie config",
        "exchange config",
        "client",
        "async client",
        "keys",
        "codec",
        "wsgi",
        "asgi",
        "memory store",
        "sqlite store",
        "redis store",
        "tokens",
        "record",
        "token request",
        "context",
        "httpx auth",
    ],
)
def test_no_secret_in_repr_or_str(tmp_path: Path, name: str) -> None:
    obj = _objects(tmp_path)[name]
    for text in (repr(obj), str(obj)):
        for secret in SECRETS:
            assert secret not in text, (name, text)
    keys = _objects(tmp_path)["keys"]
    for raw in (keys.store_key, keys.csrf_key):
        assert raw.hex() not in repr(obj) and repr(raw) not in repr(obj)


def test_the_config_repr_still_names_its_settings(tmp_path: Path) -> None:
    text = repr(_objects(tmp_path)["config"])
    assert "client_id='app'" in text and "redis://user:***@127.0.0.1:1/0" in text
