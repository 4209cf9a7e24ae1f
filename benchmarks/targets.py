"""The targets of issue 5 (and the scale target of issue 4), checked against one run.

Each ``Target`` is a measured figure with, for a real target, the bound it must respect;
figures without a bound are printed for context (peers, Redis, SQLite under a server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .server import STACKS

#: Issue 5's bounds.
MEMORY_OVERHEAD_US = 3.0
SQLITE_OVERHEAD_US = 15.0
SIGNED_OUT_OVERHEAD_US = 1.0
CHEAPER_THAN_SESSION_MIDDLEWARE = 7.0
SERVER_RATIO = 0.85
SCALE_RATIO = 1.5
#: Issue 12's bounds: Redis with the client cache, and how long another process's sign-out
#: or rotation may go unseen.
REDIS_CACHED_OVERHEAD_US = 10.0
STALENESS_MS = 1000.0


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    value: float | None
    unit: str
    op: str | None = None  # "<=", ">=", "==" or None (context only)
    bound: float | None = None

    @property
    def met(self) -> bool | None:
        if self.op is None or self.bound is None:
            return None
        if self.value is None:
            return False
        if self.op == "<=":
            return self.value <= self.bound
        if self.op == ">=":
            return self.value >= self.bound
        return self.value == self.bound

    @property
    def rounded_value(self) -> float | None:
        return None if self.value is None else round(self.value, 3)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "value": self.rounded_value,
            "unit": self.unit,
            "op": self.op,
            "bound": self.bound,
            "met": self.met,
        }


def _by_key(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in results}


def _inprocess(data: dict[str, Any]) -> list[Target]:
    rows = _by_key(data["results"])

    def overhead(key: str) -> float | None:
        row = rows.get(key)
        return None if row is None else row["overhead_us"]

    out: list[Target] = []
    for proto in ("wsgi", "asgi"):
        p = proto.upper()
        out.append(
            Target(
                f"inprocess.{proto}.memory_overhead_us",
                f"{p} signed in, fresh token, memory store: overhead per request",
                overhead(f"{proto}.memory"),
                "µs",
                "<=",
                MEMORY_OVERHEAD_US,
            )
        )
    sm = overhead("asgi.session_middleware")
    for proto in ("wsgi", "asgi"):
        ours = overhead(f"{proto}.memory")
        ratio = None if sm is None or ours is None else sm / max(ours, 0.01)
        out.append(
            Target(
                f"inprocess.{proto}.session_middleware_over_memory",
                f"Starlette SessionMiddleware's overhead / ours ({proto.upper()}, memory store)",
                ratio,
                "x",
                ">=",
                CHEAPER_THAN_SESSION_MIDDLEWARE,
            )
        )
    for proto in ("wsgi", "asgi"):
        out.append(
            Target(
                f"inprocess.{proto}.sqlite_overhead_us",
                f"{proto.upper()} signed in, fresh token, SQLite store: overhead per request",
                overhead(f"{proto}.sqlite"),
                "µs",
                "<=",
                SQLITE_OVERHEAD_US,
            )
        )
    for proto in ("wsgi", "asgi"):
        out.append(
            Target(
                f"inprocess.{proto}.signed_out_overhead_us",
                f"{proto.upper()} signed out (no session cookie): overhead per request",
                overhead(f"{proto}.signed_out"),
                "µs",
                "<=",
                SIGNED_OUT_OVERHEAD_US,
            )
        )
    for proto in ("wsgi", "asgi"):
        if f"{proto}.redis_cached" in rows:
            out.append(
                Target(
                    f"inprocess.{proto}.redis_cached_overhead_us",
                    f"{proto.upper()} signed in, Redis store with client_cache: overhead",
                    overhead(f"{proto}.redis_cached"),
                    "µs",
                    "<=",
                    REDIS_CACHED_OVERHEAD_US,
                )
            )
    out.append(
        Target(
            "inprocess.store_writes",
            "sessions written to by requests on the hot path",
            float(len(data.get("stores_written_by_requests", []))),
            "",
            "==",
            0.0,
        )
    )
    # Context.
    for key, description in (
        ("wsgi.redis", "WSGI signed in, Redis store: overhead"),
        ("asgi.redis", "ASGI signed in, Redis store: overhead"),
        ("asgi.session_middleware", "Starlette SessionMiddleware: overhead"),
        ("wsgi.flask_session", "Flask signed-cookie session: overhead over bare Flask"),
        ("wsgi.flask_thunderid", "thunderid (memory) around Flask: overhead over bare Flask"),
    ):
        if key in rows:
            out.append(Target(f"inprocess.{key}_overhead_us", description, overhead(key), "µs"))
    return out


def _server(data: dict[str, Any]) -> list[Target]:
    rows = _by_key(data["results"])
    out: list[Target] = []
    for srv in ("uvicorn", "gunicorn", *(stack.key for stack in STACKS)):
        row = rows.get(f"{srv}.thunderid_memory")
        if row is None:
            continue
        out.append(
            Target(
                f"server.{srv}.memory_over_bare",
                f"{srv}: throughput wrapped (memory store) / bare",
                row["ratio"],
                "x",
                ">=",
                SERVER_RATIO,
            )
        )
    for key in (
        "uvicorn.thunderid_sqlite",
        "uvicorn.session_middleware",
        "gunicorn.thunderid_sqlite",
        "gunicorn.flask_session",
        "gunicorn1.thunderid_memory",
        "gunicorn1.thunderid_sqlite",
    ):
        if key in rows:
            row = rows[key]
            out.append(
                Target(
                    f"server.{key}_over_{row['baseline'].split('.', 1)[1]}",
                    f"{row['label'].strip()}: throughput / its baseline",
                    row["ratio"],
                    "x",
                )
            )
    return out


def _storm(data: dict[str, Any]) -> list[Target]:
    out: list[Target] = []
    for row in data["results"]:
        srv, counts = row["server"], row["refreshes_per_storm"]
        worst = max(counts, key=lambda c: abs(c - 1)) if counts else None
        out.append(
            Target(
                f"storm.{srv}.refreshes_per_storm",
                f"{srv}: refresh grants per storm of {row['n']} requests (worst storm)",
                None if worst is None else float(worst),
                "",
                "==",
                1.0,
            )
        )
        out.append(
            Target(
                f"storm.{srv}.storm_over_fresh",
                f"{srv}: time for {row['n']} requests at expiry / with a fresh token",
                row["storm_over_fresh"],
                "x",
            )
        )
    return out


def _scale(data: dict[str, Any]) -> list[Target]:
    out: list[Target] = []
    for store, ratio in data["ratios"].items():
        out.append(
            Target(
                f"scale.{store}.hot_ratio",
                f"{store}: hot-path cost at {ratio['to']:,} / at {ratio['from']:,} sessions",
                ratio["hot"],
                "x",
                "<=",
                SCALE_RATIO,
            )
        )
        out.append(
            Target(
                f"scale.{store}.cold_ratio",
                f"{store}: cold-load cost at {ratio['to']:,} / at {ratio['from']:,} sessions",
                ratio["cold"],
                "x",
            )
        )
    return out


def _staleness(data: dict[str, Any]) -> list[Target]:
    out: list[Target] = []
    for row in data["results"]:
        out.append(
            Target(
                f"staleness.{row['key']}.max_ms",
                f"Redis client cache: a session {row['label']} by another process, "
                f"served until (worst of {row['trials']})",
                row["max_ms"],
                "ms",
                "<=",
                STALENESS_MS,
            )
        )
        out.append(
            Target(
                f"staleness.{row['key']}.p99_ms",
                f"Redis client cache: a session {row['label']} by another process, "
                "served until (p99)",
                row["p99_ms"],
                "ms",
            )
        )
    return out


def evaluate(section: str, data: dict[str, Any]) -> list[Target]:
    sections = {
        "inprocess": _inprocess,
        "server": _server,
        "storm": _storm,
        "scale": _scale,
        "staleness": _staleness,
    }
    return sections[section](data)


def print_targets(targets: list[Target]) -> None:
    print("\n## Targets")
    for t in targets:
        value = "n/a" if t.value is None else f"{t.value:.2f}{t.unit}"
        if t.met is None:
            verdict, bound = "  (context)", ""
        else:
            verdict = "  MET " if t.met else "  MISSED"
            bound = f" (target {t.op} {t.bound:g}{t.unit})"
        print(f"{verdict:<9} {t.description}: {value}{bound}")
