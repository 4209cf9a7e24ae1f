"""Run the benchmarks and print their tables, the targets, and a JSON summary.

    .venv/bin/python benchmarks/run.py [--quick] [--json out.json] [--markdown out.md]
                                       [--only inprocess,server,storm,scale,staleness]
                                       [--update-docs]

Sections (see docs/performance.md for what each number means):

* ``inprocess`` -- WSGI and ASGI apps called directly in a loop: µs per request, overhead
  against the bare app, ours (memory, SQLite, Redis stores; signed out) and the peers;
* ``server``    -- bounded wrk runs against uvicorn and gunicorn: requests/s, wrapped/bare;
* ``storm``     -- N concurrent requests of one session at token expiry vs fresh, and the
  IdP's refresh count;
* ``scale``     -- per-request cost with 1 000, 100 000 and 1 000 000 stored sessions;
* ``staleness`` -- how long a process serves a session from its Redis client cache after
  another process signed it out or rotated it (p50/p99/max).

``--quick`` shortens every section (and stops the scale at 100 000 sessions). Nothing
here fails on a missed target: the figures are printed, the exit status is 0 unless a
section could not run at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import inprocess, scale, server, staleness, storm  # noqa: E402
from benchmarks.report import markdown, update_docs  # noqa: E402
from benchmarks.targets import Target, evaluate, print_targets  # noqa: E402

SECTIONS = ("inprocess", "server", "storm", "scale", "staleness")


def start_redis(workdir: Path) -> tuple[Any, str | None]:
    """A redis-server of our own on a free port, or (None, None) without the binary."""
    from tests.support.redis_server import RedisServer, _find_binary

    binary = _find_binary()
    if binary is None:
        return None, None
    redis = RedisServer(binary, workdir)
    try:
        redis.start()
    except RuntimeError as exc:
        print(f"  (redis-server did not start: {exc})", file=sys.stderr)
        return None, None
    return redis, redis.url


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (under 2 minutes)")
    parser.add_argument("--json", metavar="PATH", help="also write the full results here")
    parser.add_argument("--markdown", metavar="PATH", help="also write Markdown tables here")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="rewrite the marked result blocks of docs/performance.md and docs/stores.md "
        "(a full run of every section only)",
    )
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    if args.update_docs and (args.quick or set(only) != set(SECTIONS)):
        parser.error("--update-docs needs a full run of every section (no --quick, no --only)")

    started = time.monotonic()
    info = machine()
    print(
        f"# thunderid_mw benchmarks ({'quick' if args.quick else 'full'}) — Python "
        f"{info['python']}, {info['cpus']} CPUs, load average {info['load_average_at_start']}"
    )
    report: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": info}
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="thunderid-bench-redis-") as tmp:
        redis = None
        redis_url = None
        if {"inprocess", "scale", "staleness"} & set(only):
            redis, redis_url = start_redis(Path(tmp))
        try:
            if "inprocess" in only:
                results, notes, written = inprocess.run(redis_url, quick=args.quick)
                inprocess.print_table(results, notes)
                report["inprocess"] = {
                    "results": [r.as_json() for r in results],
                    "notes": notes,
                    "stores_written_by_requests": written,
                }
                targets += evaluate("inprocess", report["inprocess"])
            if "server" in only:
                srv_results, notes = server.run(quick=args.quick)
                server.print_table(srv_results, notes)
                report["server"] = {"results": [r.as_json() for r in srv_results], "notes": notes}
                targets += evaluate("server", report["server"])
            if "storm" in only:
                storm_results, notes = storm.run(quick=args.quick)
                storm.print_table(storm_results, notes)
                report["storm"] = {
                    "results": [r.as_json() for r in storm_results if r.storm_ms],
                    "notes": notes,
                    "failures": [f for r in storm_results for f in r.failures],
                }
                targets += evaluate("storm", report["storm"])
            if "scale" in only:
                scale_results, notes = scale.run(redis_url, quick=args.quick)
                scale.print_table(scale_results, notes)
                report["scale"] = {
                    "results": [r.as_json() for r in scale_results],
                    "ratios": scale.ratios(scale_results),
                    "notes": notes,
                }
                targets += evaluate("scale", report["scale"])
            if "staleness" in only:
                stale_results, notes = staleness.run(redis_url, quick=args.quick)
                staleness.print_table(stale_results, notes)
                report["staleness"] = {
                    "results": [r.as_json() for r in stale_results],
                    "notes": notes,
                }
                targets += evaluate("staleness", report["staleness"])
        finally:
            if redis is not None:
                redis.stop()

    print_targets(targets)
    report["targets"] = [t.as_json() for t in targets]
    report["seconds"] = round(time.monotonic() - started, 1)
    summary = {
        "mode": report["mode"],
        "seconds": report["seconds"],
        "ratios": {t.name: t.rounded_value for t in targets},
        "targets_met": {t.name: t.met for t in targets},
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"\n(full results written to {args.json})")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report))
        print(f"(Markdown tables written to {args.markdown})")
    if args.update_docs:
        done = update_docs(report, REPO_ROOT)
        print(f"(docs updated: {', '.join(done) or 'no marked blocks found'})")
    print("\n## Summary (JSON)")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
