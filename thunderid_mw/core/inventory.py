"""A user's sessions, found through the ``sub`` index that back-channel logout keeps
(core/backchannel.py): list them, end one or all ("sign out other devices").

A session is named by its tag (``Keys.session_tag``: a prefix of its store key), never by
its id: the id is the user's credential, and the store holds only keys derived from it."""

from __future__ import annotations

from dataclasses import dataclass

from .backchannel import index_names, indexed_sessions
from .crypto import tag_of_key
from .effects import Flow
from .env import FlowEnv
from .refresh import end_record
from .session import EndReason


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live session of a user (times are Unix seconds)."""

    tag: str
    created_at: float
    last_seen: float
    expires_at: float


def user_sessions(env: FlowEnv, sub: str) -> Flow[list[tuple[str, SessionInfo]]]:
    """``(store key, info)`` for every live session of ``sub``, oldest first."""
    found: list[tuple[str, SessionInfo]] = []
    for index in index_names({"sub": sub}):
        for key in (yield from indexed_sessions(env, index)):
            loaded = yield from env.load(key)
            if loaded is None or loaded.record.ended is not None:
                continue
            record = loaded.record
            if record.claims.get("sub") != sub:
                continue
            info = SessionInfo(
                tag_of_key(key), record.created_at, record.last_seen, record.absolute_expires_at
            )
            found.append((key, info))
    found.sort(key=lambda pair: pair[1].created_at)
    return found


def end_user_sessions(
    env: FlowEnv, sub: str, *, tag: str | None = None, keep_session_id: str | None = None
) -> Flow[list[str]]:
    """End ``sub``'s sessions (only the one tagged ``tag``, if given; never the one of
    ``keep_session_id``); returns the tags ended."""
    keep = env.keys.store_key_for("s", keep_session_id) if keep_session_id else None
    ended: list[str] = []
    for key, info in (yield from user_sessions(env, sub)):
        if key == keep or (tag is not None and info.tag != tag):
            continue
        loaded = yield from env.load(key)
        if loaded is not None and loaded.record.ended is None:
            yield from end_record(env, key, loaded, EndReason.SIGNED_OUT)
            ended.append(info.tag)
    return ended
