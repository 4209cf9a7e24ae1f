"""Staleness of the Redis client cache across processes: how long a process that serves a
session from its local cache (``RedisStore(client_cache=True)``) goes on serving it after
another process ended or rotated it.

Process A (this one) keeps the session in its cache; process B (a child on the same host,
with its own store) signs it out (deletes the record) or rotates it (a new version), and
answers with the moment its command returned. A reads the session every 0.1 ms until its
store no longer returns the version it had; the staleness of a trial is that moment minus
B's (``time.monotonic`` is one clock for every process of a Linux host). Negative values
(the invalidation overtook B's own reply) count as 0.
"""

from __future__ import annotations

import math
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from thunderid_mw.stores import RedisStore

PREFIX = "stale:"
GIVE_UP = 5.0  # seconds: a change not seen by then counts as never seen
POLL = 0.0001  # seconds between A's reads

# Process B: one command a line on stdin ("delete KEY" / "rotate KEY VERSION"); prints the
# monotonic time once the command has returned.
_PROCESS_B = """
import sys, time
from thunderid_mw.stores import RedisStore
store = RedisStore(sys.argv[1], prefix=sys.argv[2])
for line in sys.stdin:
    verb, key, *rest = line.split()
    if verb == "delete":
        store.delete(key)
    else:
        ok = store.save(key, b"rotated", expires_at=time.time() + 600,
                        expected_version=int(rest[0]))
        assert ok is not None, "rotation refused"
    print(time.monotonic(), flush=True)
"""

CHANGES = {"delete": "signed out (record deleted)", "rotate": "rotated (new version)"}


@dataclass
class Staleness:
    change: str
    seconds: list[float] = field(default_factory=list)
    not_seen: int = 0

    def percentile(self, q: float) -> float | None:
        if not self.seconds:
            return None
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    def as_json(self) -> dict[str, Any]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 3)

        return {
            "key": self.change,
            "label": CHANGES[self.change],
            "trials": len(self.seconds) + self.not_seen,
            "not_seen": self.not_seen,
            "p50_ms": ms(self.percentile(0.5)),
            "p99_ms": ms(self.percentile(0.99)),
            "max_ms": None if self.not_seen else ms(max(self.seconds, default=None)),
        }


def _warm(store: RedisStore, key: str, version: int) -> None:
    """Read until the session is answered from A's local cache."""
    cache = store._cache  # the benchmark looks inside: a trial needs a cached session
    assert cache is not None
    deadline = time.monotonic() + 10
    while cache.get(store._skey(key)) is None:
        item = store.load(key)
        assert item is not None and item.version == version
        if time.monotonic() > deadline:
            raise RuntimeError("the client cache never kept the session (no listener?)")
        time.sleep(0.001)


def _trial(store: RedisStore, b: subprocess.Popen[str], change: str, result: Staleness) -> None:
    key = secrets.token_hex(8)
    version = store.save(key, b"session", expires_at=time.time() + 600, expected_version=None)
    assert version is not None
    _warm(store, key, version)
    assert b.stdin is not None and b.stdout is not None
    b.stdin.write(f"{change} {key} {version}\n" if change == "rotate" else f"delete {key}\n")
    b.stdin.flush()
    give_up = time.monotonic() + GIVE_UP
    while True:
        item = store.load(key)
        seen = time.monotonic()
        if item is None or item.version != version:
            break
        if seen > give_up:
            result.not_seen += 1
            seen = math.inf
            break
        time.sleep(POLL)
    done = float(b.stdout.readline())
    if seen != math.inf:
        result.seconds.append(max(0.0, seen - done))
    store.delete(key)


def measure(redis_url: str, trials: int) -> list[Staleness]:
    """``trials`` of each change, alternating."""
    results = {change: Staleness(change) for change in CHANGES}
    store = RedisStore(redis_url, prefix=PREFIX, client_cache=True)
    b = subprocess.Popen(
        [sys.executable, "-c", _PROCESS_B, redis_url, PREFIX],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(trials):
            for change, result in results.items():
                _trial(store, b, change, result)
    finally:
        assert b.stdin is not None
        b.stdin.close()
        b.wait(timeout=30)
        store.close()
    return list(results.values())


def run(redis_url: str | None, *, quick: bool) -> tuple[list[Staleness], list[str]]:
    if not redis_url:
        return [], ["skipped: no redis-server available"]
    trials = 40 if quick else 300
    results = measure(redis_url, trials)
    notes = [
        f"{trials} trials of each change, alternating; one redis-server on 127.0.0.1; "
        f"A reads every {POLL * 1000:g} ms (the bound includes that resolution)",
    ]
    return results, notes


def print_table(results: list[Staleness], notes: list[str]) -> None:
    print("\n## Client-cache staleness (process B changes a session process A has cached)")
    print(f"{'change':<32} {'trials':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} not seen")
    for r in results:
        row = r.as_json()
        cells = [
            "n/a" if row[k] is None else f"{row[k]:.2f}" for k in ("p50_ms", "p99_ms", "max_ms")
        ]
        print(
            f"{row['label']:<32} {row['trials']:>7} {cells[0]:>8} {cells[1]:>8} "
            f"{cells[2]:>8} {row['not_seen']}"
        )
    for note in notes:
        print(f"  note: {note}")
