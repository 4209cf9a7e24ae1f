"""``thunderid-mw sessions`` over the configured SQLite store: the same inventory as the
client API, named by tags, never by session ids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from thunderid_mw import AsyncThunderIDClient, ThunderIDClient, ThunderIDConfig
from thunderid_mw.core.backchannel import add_to_indexes
from thunderid_mw.core.session import SessionRecord
from thunderid_mw.core.tokens import TokenSet

SECRET = "sessions-test-secret-0123456789-abcdefgh"
FAR = 4_000_000_000.0


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "THUNDERID_CLIENT_ID": "app",
        "THUNDERID_BASE_URL": "http://127.0.0.1:9",
        "THUNDERID_AFTER_SIGN_IN_URL": "http://127.0.0.1:8000/callback",
        "THUNDERID_SECRET": SECRET,
        "THUNDERID_STORE": f"sqlite:///{tmp_path}/sessions.sqlite3",
    }


def sign_in(client: ThunderIDClient, session_id: str, sub: str) -> None:
    record = SessionRecord(
        tokens=TokenSet("at", expires_at=FAR),
        claims={"sub": sub},
        created_at=FAR - 100,
        last_seen=FAR - 50,
        absolute_expires_at=FAR,
    )
    key = client._session_key(session_id)
    client._run(client._env.save(key, record, None))
    client._run(add_to_indexes(client._env, key, record.claims, FAR))


def cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "thunderid_mw.cli", "sessions", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(tmp_path),
    )
    return done.returncode, done.stdout + done.stderr


def test_list_and_end_a_users_sessions(tmp_path: Path) -> None:
    client = ThunderIDClient(ThunderIDConfig.from_env(environment(tmp_path)))
    try:
        sign_in(client, "laptop-sid-0123456789", "alice")
        sign_in(client, "phone-sid-0123456789", "alice")
        sign_in(client, "bob-sid-0123456789", "bob")
        laptop, phone = (
            client._keys.session_tag(s) for s in ("laptop-sid-0123456789", "phone-sid-0123456789")
        )

        code, output = cli(tmp_path, "list", "alice")
        assert code == 0 and "2 session(s)" in output
        assert laptop in output and phone in output and "sid-0123456789" not in output

        code, output = cli(tmp_path, "end", "alice", "--tag", laptop)
        assert code == 0 and f"ended {laptop}" in output
        assert [s.tag for s in client.list_user_sessions("alice")] == [phone]
        assert not client.context_for_session("laptop-sid-0123456789").is_signed_in

        code, output = cli(tmp_path, "end", "alice", "--tag", "not-a-tag")
        assert code == 1 and "0 session(s) ended" in output

        assert client.end_user_sessions("alice") == [phone]
        assert len(client.list_user_sessions("bob")) == 1
    finally:
        client.close()


async def test_the_async_client_has_the_same_inventory(tmp_path: Path) -> None:
    """Seeded through the sync client into the same SQLite file, listed and ended through
    the async one: "sign out other devices" from an async app."""
    config = ThunderIDConfig.from_env(environment(tmp_path))
    seeder = ThunderIDClient(config)
    try:
        for session_id in ("laptop-sid-0123456789", "phone-sid-0123456789"):
            sign_in(seeder, session_id, "alice")
        sign_in(seeder, "bob-sid-0123456789", "bob")
        laptop, phone = (
            seeder._keys.session_tag(s) for s in ("laptop-sid-0123456789", "phone-sid-0123456789")
        )
    finally:
        seeder.close()

    client = AsyncThunderIDClient(config)
    try:
        listed = await client.list_user_sessions("alice")
        assert sorted(s.tag for s in listed) == sorted([laptop, phone])
        assert await client.end_user_sessions("alice", keep_session_id="phone-sid-0123456789") == [
            laptop
        ]
        assert not (await client.context_for_session("laptop-sid-0123456789")).is_signed_in
        assert (await client.context_for_session("phone-sid-0123456789")).is_signed_in
        assert len(await client.list_user_sessions("bob")) == 1  # not touched
        assert await client.end_user_sessions("alice", tag="not-a-tag") == []
    finally:
        await client.aclose()
