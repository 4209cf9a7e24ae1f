"""``thunderid-mw secret``: a new value for ``THUNDERID_SECRET``."""

from __future__ import annotations

import argparse
import secrets
from typing import Any

SECRET_BYTES = 32  # 43 URL-safe characters, above MIN_SECRET_LENGTH


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def add_secret_command(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "secret",
        help="print a new random secret for THUNDERID_SECRET",
        description="Print a new random secret. Every worker and host of one app must "
        "share the same secret; changing it signs everyone out.",
    )
    parser.set_defaults(run=_run)


def _run(_: argparse.Namespace) -> int:
    print(new_secret())
    return 0
