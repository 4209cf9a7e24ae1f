"""The long hostile-input run: at least 10,000 generated requests per adapter (WSGI,
ASGI) and store (memory, SQLite), and per adapter with the app below a mount prefix,
seeded and reproducible. One summary line each, then
the first findings of each kind if there are any; exit status 1 if any property failed.

    .venv/bin/python scripts/fuzz.py                     # 10,000 each, seed 1
    .venv/bin/python scripts/fuzz.py --requests 50000 --seed 7

What is sent and which properties are checked: tests/support/fuzz.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, seed, settings

from tests.support.fuzz import FuzzRequest, Harness, describe, requests

COMBINATIONS = [
    ("wsgi", "memory", ""),
    ("wsgi", "sqlite", ""),
    ("asgi", "memory", ""),
    ("asgi", "sqlite", ""),
    ("wsgi", "memory", "/app"),
    ("asgi", "memory", "/app"),
]


def run(adapter: str, store: str, mount: str, count: int, seed_value: int) -> bool:
    harness = Harness(adapter, store, mount)
    started = time.monotonic()

    @seed(seed_value)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests())
    def fuzz(request: FuzzRequest) -> None:
        harness.send(request)  # findings are collected, not raised: keep going

    try:
        fuzz()
    finally:
        harness.close()
    findings = harness.findings
    seconds = time.monotonic() - started
    label = f"{adapter}+{store}{' mounted at ' + mount if mount else ''} seed={seed_value}"
    print(f"{findings.summary(label)} ({seconds:.0f} s)")
    if not findings.clean:
        print(describe(findings))
    return findings.clean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="per adapter and store")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = [run(a, s, m, args.requests, args.seed) for a, s, m in COMBINATIONS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
