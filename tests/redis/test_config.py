"""A RedisStore configured from THUNDERID_* variables, and what it really puts in Redis.

Runs the in-process clients (no app server) against the real IdP and real redis-servers:
the session Redis over ``redis://``, and a private one over ``unix://`` and ``rediss://``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis

from tests.redis.harness import PrivateRedis
from tests.support.idp import IdP, make_self_signed_cert
from tests.support.redis_server import RedisServer
from tests.support.servers import TEST_SECRET
from thunderid_mw import AsyncThunderIDClient, ThunderIDClient, ThunderIDConfig
from thunderid_mw.core.crypto import Keys
from thunderid_mw.core.errors import ConfigError
from thunderid_mw.core.records import RecordCodec
from thunderid_mw.stores import RedisStore

REDIRECT = "http://127.0.0.1:9/callback"  # never called: the test reads the code from it


def env_for(idp: IdP, store_url: str, **extra: str) -> dict[str, str]:
    return {
        "THUNDERID_BASE_URL": idp.issuer,
        "THUNDERID_CLIENT_ID": idp.conf_client_id,
        "THUNDERID_CLIENT_SECRET": idp.conf_client_secret,
        "THUNDERID_AFTER_SIGN_IN_URL": REDIRECT,
        "THUNDERID_SECRET": TEST_SECRET,
        "THUNDERID_STORE": store_url,
        **extra,
    }


def _bytes(value: bytes | str) -> bytes:
    """redis-py types replies ``bytes | str``; without ``decode_responses`` they are bytes."""
    assert isinstance(value, bytes), value
    return value


def sign_in(client: ThunderIDClient, idp: IdP, username: str = "alice") -> str:
    """Node SDK style: sign-in URL, the user logs in at the IdP, ``sign_in`` with the code.
    Returns the new session id."""
    session_id = uuid.uuid4().hex
    url = client.get_sign_in_url(session_id)
    with httpx.Client(timeout=10) as browser:
        location = idp.login(browser, url, username)
    assert location.startswith(REDIRECT + "?"), location
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    ctx = client.sign_in(session_id, params["code"], params["state"], iss=params.get("iss"))
    assert ctx.is_signed_in
    return session_id


def test_from_env_builds_a_redis_store_whose_keys_are_namespaced_expiring_and_sealed(
    idp_reset: IdP, redis_server: RedisServer, raw_redis: redis.Redis
) -> None:
    redis_server.flush()
    raw_redis.set("other-app:key", "untouched")
    env = env_for(idp_reset, redis_server.url + "?prefix=app-a:", THUNDERID_IDLE_TIMEOUT="600")
    config = ThunderIDConfig.from_env(env, ended_session_memory=60)
    assert config.store == redis_server.url + "?prefix=app-a:"  # opened by the client
    client = ThunderIDClient(config)
    store = client._store
    assert isinstance(store, RedisStore)
    assert store.prefix == "app-a:"
    assert store.url == redis_server.url  # the prefix is ours, not redis-py's
    try:
        session_id = sign_in(client, idp_reset)
        access_token = client.get_access_token(session_id)
        id_token = client.get_id_token(session_id)
    finally:
        client.close()
        store.close()

    # Namespaced: every key we wrote carries the prefix; another app's key is untouched.
    keys = sorted(_bytes(k).decode() for k in raw_redis.keys("*"))
    ours = [k for k in keys if k != "other-app:key"]
    assert ours and all(k.startswith("app-a:") for k in ours), keys
    assert raw_redis.get("other-app:key") == b"untouched"
    # The key is an HMAC of the session id, not the id (a dump hands out no cookies).
    session_key = "app-a:s:" + Keys.from_secret(TEST_SECRET).store_key_for("s", session_id)
    assert session_key in ours
    assert not any(session_id in k for k in keys)
    assert raw_redis.type(session_key) == b"hash"
    # Expiring with the session: Redis drops it at the idle limit (+ the time an ended
    # session is remembered), no sweep needed.
    ttl_ms = raw_redis.pttl(session_key)
    assert 0 < ttl_ms <= (600 + 60) * 1000, ttl_ms
    # No lease left behind.
    assert not [k for k in ours if k.startswith("app-a:l:")]

    # Sealed at rest: no token and no session id in clear, anywhere in the record.
    data = raw_redis.hget(session_key, "d")
    assert data is not None
    dump = b"".join(
        k.encode() + b"=" + b"".join(_bytes(v) for v in raw_redis.hgetall(k).values())
        if raw_redis.type(k) == b"hash"
        else k.encode() + b"=" + _bytes(raw_redis.get(k) or b"")
        for k in ours
    )
    for secret_text in (access_token, id_token, session_id):
        assert secret_text.encode() not in dump
    for part in access_token.split(".") + id_token.split("."):  # JWT pieces too
        if len(part) >= 16:
            assert part.encode() not in dump
    # ... but the configured secret opens it, bound to its key.
    codec = RecordCodec(Keys.from_secret(TEST_SECRET), True)
    store_key = session_key.removeprefix("app-a:s:")
    record = codec.decode(bytes(data), store_key)  # type: ignore[arg-type]
    assert record is not None and record.tokens.access_token == access_token
    assert record.tokens.refresh_token and record.tokens.refresh_token.encode() not in dump
    other_secret = RecordCodec(Keys.from_secret("another-secret-0123456789-abcdefghij"), True)
    assert other_secret.decode(bytes(data), store_key) is None  # type: ignore[arg-type]
    assert codec.decode(bytes(data), store_key + "x") is None  # type: ignore[arg-type]


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for a unix socket (their paths are limited to ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="tid-redis-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_and_tls_redis(private_redis: Any, socket_dir: Path, tmp_path: Path) -> PrivateRedis:
    cert, key = make_self_signed_cert(tmp_path / "tls")
    server: PrivateRedis = private_redis(
        tmp_path, unix_socket=socket_dir / "redis.sock", tls=(cert, key)
    )
    return server


@pytest.mark.parametrize("scheme", ["unix", "rediss"])
async def test_unix_socket_and_tls_urls_work_end_to_end(
    idp_reset: IdP, unix_and_tls_redis: PrivateRedis, scheme: str
) -> None:
    server = unix_and_tls_redis
    if scheme == "unix":
        url = f"unix://{server.unix_socket}?db=0&prefix=u:"
    else:
        assert server.tls is not None
        url = f"rediss://127.0.0.1:{server.tls_port}/0?ssl_ca_certs={server.tls[0]}&prefix=t:"
    env = env_for(idp_reset, url)

    # One "process" signs in with the sync client ...
    sync_client = ThunderIDClient(ThunderIDConfig.from_env(env))
    assert isinstance(sync_client._store, RedisStore)
    try:
        session_id = sign_in(sync_client, idp_reset)
        token = sync_client.get_access_token(session_id)
    finally:
        sync_client.close()
        sync_client._store.close()

    # ... another, configured from the same variables, finds the session (async client).
    async_client = AsyncThunderIDClient(ThunderIDConfig.from_env(env))
    assert isinstance(async_client._store, RedisStore)
    try:
        assert await async_client.is_signed_in(session_id)
        assert await async_client.get_access_token(session_id) == token
        user = await async_client.get_user(session_id)
        assert user["sub"] == idp_reset.subjects["alice"]
    finally:
        await async_client.aclose()
        await async_client._store.aclose()

    # It really went through that server, under the prefix.
    prefix = "u:" if scheme == "unix" else "t:"
    raw = redis.Redis(host="127.0.0.1", port=server.port)
    try:
        keys = [_bytes(k).decode() for k in raw.keys("*")]
    finally:
        raw.close()
    assert keys and all(k.startswith(prefix) for k in keys), keys


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0?socket_timeout=soon",
        "redis://127.0.0.1:6379/0?prefix=a:&db=first",
    ],
)
def test_a_malformed_redis_url_fails_at_start_up(idp: IdP, url: str) -> None:
    """Not with a ValueError (a 500) on every request later."""
    config = ThunderIDConfig.from_env(env_for(idp, url))
    with pytest.raises(ConfigError, match="malformed redis:// session store URL"):
        ThunderIDClient(config)
