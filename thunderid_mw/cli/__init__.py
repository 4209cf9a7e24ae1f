"""The ``thunderid-mw`` command: ``secret`` prints a new secret; ``doctor`` checks a
deployment against the live provider and store; ``sessions`` lists or ends a user's
sessions. Each subcommand is its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .doctor import add_doctor_command
from .secret import add_secret_command
from .sessions import add_sessions_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thunderid-mw", description="Operate a thunderid_mw deployment."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_doctor_command(commands)
    add_secret_command(commands)
    add_sessions_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":  # python -m thunderid_mw.cli
    sys.exit(main())
