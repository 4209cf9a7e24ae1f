"""``thunderid-mw sessions list SUB`` / ``sessions end SUB [--tag TAG]``: a user's
sessions in the configured store (the client API's ``list_user_sessions`` and
``end_user_sessions``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from ..client import ThunderIDClient
from ..core.errors import ConfigError, StoreUnavailable
from .doctor import load_config


def add_sessions_command(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "sessions",
        help="list or end a user's sessions (by sub) in the configured store",
        description=__doc__,
    )
    parser.add_argument("--config", metavar="MODULE:ATTR", help="as for doctor")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the user's live sessions")
    listing.add_argument("sub", help="the user's subject identifier (the sub claim)")
    ending = actions.add_parser("end", help="end the user's sessions (all, or --tag)")
    ending.add_argument("sub")
    ending.add_argument("--tag", help="end only this session (a tag from `list`)")
    parser.set_defaults(run=_run)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(args: argparse.Namespace) -> int:
    try:
        client = ThunderIDClient(load_config(args.config))
    except ConfigError as exc:
        print(f"error: {exc}")
        return 1
    try:
        if args.action == "list":
            sessions = client.list_user_sessions(args.sub)
            for info in sessions:
                print(
                    f"{info.tag}  created {_when(info.created_at)}  last seen "
                    f"{_when(info.last_seen)}  ends by {_when(info.expires_at)}"
                )
            print(f"{len(sessions)} session(s)")
            return 0
        ended = client.end_user_sessions(args.sub, tag=args.tag)
        for tag in ended:
            print(f"ended {tag}")
        print(f"{len(ended)} session(s) ended")
        return 0 if ended or args.tag is None else 1
    except StoreUnavailable as exc:
        print(f"error: {exc}")
        return 1
    finally:
        client.close()
