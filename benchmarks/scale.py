"""Store scale: the per-request cost of loading and checking a session when the store holds
1 000, 100 000 or 1 000 000 sessions (memory, SQLite, Redis).

Every store holds the same kind of record: a real session (a ~2 kB encrypted record, as a
sign-in writes it). A working set of 1 000 signed-in sessions is stored first; the other
sessions are added around it, each a copy of one real encrypted record under its own
random store key (the store never reads a record, so copies cost it the same as distinct
ones; a store key is an HMAC, i.e. random-looking, like these). Two figures per size:

* **hot path** -- ``client.context_for_cookie(cookie)`` (what the middleware runs per
  request: cookie -> store key -> ``store.load`` -> version/expiry check -> context), round
  robin over the 1 000 working-set sessions;
* **cold load** -- ``store.load(key)`` of keys drawn uniformly from all stored sessions
  (most of them not touched recently).

Filling fast: memory through ``MemoryStore.save`` (the public API); SQLite with
``executemany`` in one transaction per size on a side connection (journal off during the
bulk load, the store's own connection reopens the file in WAL mode after it); Redis with
pipelines writing the store's own layout (a hash ``{prefix}s:{key}`` with fields v, d, e
and a ``PEXPIREAT``). Both direct fills are checked by loading records back through the
store, so a change of a store's layout fails loudly here instead of measuring nothing.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thunderid_mw import ThunderIDClient
from thunderid_mw.stores import MemoryStore, SQLiteStore
from thunderid_mw.stores.base import SessionStore

from .common import (
    Stats,
    bench_config,
    calibrate,
    cookie_header,
    encoded_session,
    make_tokens,
    new_session_id,
)

WORKING_SET = 1_000
COLD_SAMPLE = 5_000
SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 100_000)
_SQLITE_COLUMNS = ["key", "version", "expires_at", "data"]


@dataclass
class ScaleResult:
    store: str
    size: int
    hot_us: Stats
    cold_us: Stats
    fill_seconds: float
    signed_in: int  # working-set sessions seen signed in (must be all)

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "sessions": self.size,
            "hot_us_median": round(self.hot_us.median, 3),
            "hot_us_min": round(self.hot_us.low, 3),
            "hot_us_max": round(self.hot_us.high, 3),
            "cold_load_us_median": round(self.cold_us.median, 3),
            "fill_seconds": round(self.fill_seconds, 2),
            "working_set_signed_in": self.signed_in,
        }


@dataclass
class Filler:
    """Generates the bulk sessions: random store keys, one shared encrypted record."""

    data: bytes
    expires_at: float
    version: int = 1
    sample: list[str] = field(default_factory=list)

    def keys(self, count: int, sample_rate: float) -> Iterator[str]:
        rnd = random.random
        for _ in range(count):
            key = "s:" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
            if rnd() < sample_rate:
                self.sample.append(key)
            yield key


class Backend:
    """One store under test, grown size by size."""

    name = ""

    def __init__(self, store: SessionStore):
        self.store = store

    def add_working_set(self, items: list[tuple[str, bytes, float]]) -> None:
        for key, data, expires_at in items:
            version = self.store.save(key, data, expires_at=expires_at, expected_version=None)
            assert version is not None, "a working-set session could not be stored"

    def bulk(self, filler: Filler, count: int, sample_rate: float) -> None:
        for key in filler.keys(count, sample_rate):
            self.store.save(key, filler.data, expires_at=filler.expires_at, expected_version=None)

    def close(self) -> None:
        self.store.close()


class MemoryBackend(Backend):
    name = "memory"


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path):
        super().__init__(SQLiteStore(str(path)))
        self.path = path

    def bulk(self, filler: Filler, count: int, sample_rate: float) -> None:
        store = self.store
        assert isinstance(store, SQLiteStore)
        store.load("s:none")  # creates the file and its tables
        store.close()  # the side connection needs the file to itself to turn the journal off
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(sessions)")]
            if columns != _SQLITE_COLUMNS:
                raise RuntimeError(
                    f"SQLiteStore's sessions table has columns {columns}, not "
                    f"{_SQLITE_COLUMNS}: update benchmarks/scale.py's bulk fill"
                )
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA cache_size = -1000000")
            conn.execute("BEGIN")
            keys = filler.keys(count, sample_rate)
            while batch := list(itertools.islice(keys, 50_000)):
                conn.executemany(
                    "INSERT INTO sessions (key, version, expires_at, data) VALUES (?, ?, ?, ?)",
                    [(k, filler.version, filler.expires_at, filler.data) for k in batch],
                )
            conn.execute("COMMIT")
        finally:
            conn.close()
        # The store reopens the file on next use and puts it back in WAL mode.


class RedisBackend(Backend):
    name = "redis"

    def __init__(self, url: str):
        from thunderid_mw.stores import RedisStore

        self.prefix = "scale:"
        super().__init__(RedisStore(url, prefix=self.prefix))
        self.url = url

    def bulk(self, filler: Filler, count: int, sample_rate: float) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        expire_ms = int(filler.expires_at * 1000)
        mapping = {"v": filler.version, "d": filler.data, "e": repr(filler.expires_at)}
        try:
            keys = filler.keys(count, sample_rate)
            while batch := list(itertools.islice(keys, 5_000)):
                pipe = client.pipeline(transaction=False)
                for key in batch:
                    name = f"{self.prefix}s:{key}"
                    pipe.hset(name, mapping=mapping)  # type: ignore[arg-type]
                    pipe.pexpireat(name, expire_ms)
                pipe.execute()
        finally:
            client.close()

    def close(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            # ASYNC: dropping a million keys inline can outlast the socket timeout on a
            # busy machine, and the run's results would be lost with it.
            client.flushdb(asynchronous=True)
        finally:
            client.close()
        super().close()


def _timer(fn: Callable[[str], Any], args: list[str]) -> Callable[[int], float]:
    def timer(n: int) -> float:
        import gc

        gc.collect()
        it = itertools.islice(itertools.cycle(args), n)
        start = time.perf_counter_ns()
        for arg in it:
            fn(arg)
        return (time.perf_counter_ns() - start) / n / 1000.0

    return timer


@dataclass
class _Subject:
    """One store at one size, with its client and timers."""

    size: int
    backend: Backend
    client: ThunderIDClient
    fill_seconds: float
    signed_in: int
    hot: Callable[[int], float]
    cold: Callable[[int], float]
    n_hot: int = 0
    n_cold: int = 0
    hot_stats: Stats = field(default_factory=lambda: Stats([]))
    cold_stats: Stats = field(default_factory=lambda: Stats([]))


def _prepare(backend: Backend, size: int, working: list[str]) -> _Subject:
    """Fill ``backend`` with the working set and ``size - len(working)`` other sessions."""
    config = bench_config(backend.store)
    client = ThunderIDClient(config)
    tokens = make_tokens()
    items = [encoded_session(config, sid, tokens) for sid in working]
    _, data, expires_at = items[0]
    filler = Filler(data, expires_at)
    start = time.perf_counter()
    backend.add_working_set(items)
    extra = size - len(items)
    if extra > 0:
        backend.bulk(filler, extra, min(1.0, COLD_SAMPLE / extra))
    fill_seconds = time.perf_counter() - start
    sample_keys = filler.sample or [key for key, _, _ in items]
    for key in random.sample(sample_keys, min(20, len(sample_keys))):
        if backend.store.load(key) is None:
            raise RuntimeError(f"{backend.name}: a bulk-filled session does not load")
    cookies = [cookie_header(sid) for sid in working]
    random.shuffle(cookies)
    signed_in = sum(client.context_for_cookie(c).is_signed_in for c in cookies)
    return _Subject(
        size,
        backend,
        client,
        fill_seconds,
        signed_in,
        _timer(client.context_for_cookie, cookies),
        _timer(backend.store.load, random.sample(sample_keys, len(sample_keys))),
    )


def measure(
    make: Callable[[int], Backend], sizes: tuple[int, ...], *, rounds: int, round_seconds: float
) -> list[ScaleResult]:
    """One store per size (``make(index)``), all filled first; then rounds that visit every
    size in turn, so a busy moment of the machine hits every size alike."""
    working = [new_session_id() for _ in range(WORKING_SET)]
    subjects: list[_Subject] = []
    try:
        for i, size in enumerate(sizes):
            subjects.append(_prepare(make(i), size, working))
        for s in subjects:
            s.n_hot = calibrate(s.hot, round_seconds)
            s.n_cold = calibrate(s.cold, round_seconds)
        for r in range(rounds):
            for s in subjects if r % 2 == 0 else subjects[::-1]:
                s.hot_stats.rounds.append(s.hot(s.n_hot))
                s.cold_stats.rounds.append(s.cold(s.n_cold))
    finally:
        for s in subjects:
            s.client.close()
            s.backend.close()
    return [
        ScaleResult(s.backend.name, s.size, s.hot_stats, s.cold_stats, s.fill_seconds, s.signed_in)
        for s in subjects
    ]


def run(
    redis_url: str | None,
    *,
    quick: bool,
    sizes: tuple[int, ...] | None = None,
    stores: tuple[str, ...] = ("memory", "sqlite", "redis"),
) -> tuple[list[ScaleResult], list[str]]:
    sizes = sizes or (QUICK_SIZES if quick else SIZES)
    rounds, seconds = (5, 0.04) if quick else (9, 0.08)
    results: list[ScaleResult] = []
    notes = [
        f"one store per size, filled first, then {rounds} rounds visiting every size; "
        f"working set {WORKING_SET} sessions; cold loads over ~{COLD_SAMPLE} keys drawn "
        "from the bulk-filled sessions"
    ]
    with tempfile.TemporaryDirectory(prefix="thunderid-bench-scale-") as tmp:
        for name in stores:
            if name == "redis" and not redis_url:
                notes.append("Redis store skipped: no redis-server available")
                continue

            def make(i: int, name: str = name) -> Backend:
                if name == "memory":
                    return MemoryBackend(MemoryStore())
                if name == "sqlite":
                    return SQLiteBackend(Path(tmp) / f"scale-{i}.sqlite3")
                assert redis_url is not None
                return RedisBackend(f"{redis_url.rsplit('/', 1)[0]}/{i + 1}")  # one db per size

            results += measure(make, sizes, rounds=rounds, round_seconds=seconds)
    return results, notes


def ratios(results: list[ScaleResult]) -> dict[str, dict[str, float]]:
    """Per store: largest size's cost over the smallest's (hot path and cold load)."""
    out: dict[str, dict[str, float]] = {}
    for store in dict.fromkeys(r.store for r in results):
        rows = sorted((r for r in results if r.store == store), key=lambda r: r.size)
        if len(rows) < 2:
            continue
        first, last = rows[0], rows[-1]
        out[store] = {
            "from": first.size,
            "to": last.size,
            "hot": last.hot_us.median / first.hot_us.median,
            "cold": last.cold_us.median / first.cold_us.median,
        }
    return out


def print_table(results: list[ScaleResult], notes: list[str]) -> None:
    print("\n## Store scale (µs per request: median of rounds, min-max)")
    print(
        f"{'store':<8} {'sessions':>10} {'hot path':>9} {'min-max':>13} {'cold load':>10} "
        f"{'fill s':>7}  signed in"
    )
    for r in results:
        spread = f"{r.hot_us.low:.2f}-{r.hot_us.high:.2f}"
        print(
            f"{r.store:<8} {r.size:>10,} {r.hot_us.median:>9.2f} {spread:>13} "
            f"{r.cold_us.median:>10.2f} {r.fill_seconds:>7.1f}  {r.signed_in}/{WORKING_SET}"
        )
    for store, ratio in ratios(results).items():
        print(
            f"  {store}: {ratio['to']:,} / {ratio['from']:,} sessions = "
            f"{ratio['hot']:.2f}x (hot path), {ratio['cold']:.2f}x (cold load)"
        )
    for note in notes:
        print(f"  note: {note}")
