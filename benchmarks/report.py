"""Markdown tables of one run (``run.py --markdown FILE`` / ``--update-docs``), or of a
saved one: ``python benchmarks/report.py results.json [--update-docs]``.

``--update-docs`` rewrites, in ``docs/performance.md`` and ``docs/stores.md``, only what
lies between ``<!-- benchmark:NAME:start -->`` and ``<!-- benchmark:NAME:end -->``
markers, with NAME one of ``run``, ``inprocess``, ``server``, ``storm``, ``scale``,
``staleness``, ``targets``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

DOCS = ("docs/performance.md", "docs/stores.md")


def _f(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def run_info(report: dict[str, Any]) -> str:
    m = report["machine"]
    return (
        f"{report['mode']} run, {report['seconds']:.0f} s; Python {m['python']} on "
        f"{m['platform']}, {m['cpus']} CPUs; load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_at_start'] or ())}"
    )


def inprocess(data: dict[str, Any]) -> str:
    rows = [
        "| variant | µs/request | min-max | overhead (µs) | against |",
        "|---|---:|---:|---:|---|",
    ]
    for r in data["results"]:
        rows.append(
            f"| {' '.join(r['label'].split())} | {_f(r['median_us'])} "
            f"| {_f(r['min_us'])}-{_f(r['max_us'])} "
            f"| {_f(r['overhead_us'], sign=True)} | {r['baseline'] or ''} |"
        )
    return "\n".join(rows) + _notes(data)


def server(data: dict[str, Any]) -> str:
    if not data["results"]:
        return _notes(data).strip()
    rows = [
        "| variant | requests/s | min-max | ratio | ratio min-max | against |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in data["results"]:
        ratio = "" if r["ratio"] is None else f"**{r['ratio']:.3f}**"
        spread = "" if r["ratio"] is None else f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"
        errors = f" ({'; '.join(sorted(set(r['errors'])))})" if r["errors"] else ""
        rows.append(
            f"| {' '.join(r['label'].split())}{errors} | {r['rps_median']:.0f} | "
            f"{r['rps_min']:.0f}-{r['rps_max']:.0f} | {ratio} | {spread} | "
            f"{r['baseline'] or ''} |"
        )
    return "\n".join(rows) + _notes(data)


def storm(data: dict[str, Any]) -> str:
    if not data["results"]:
        return _notes(data).strip()
    rows = [
        "| server | N | all answered at expiry (ms) | with a fresh token (ms) | extra (ms) "
        "| ratio | refresh grants per storm | refresh tokens reused |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in data["results"]:
        extra = r["storm_ms_median"] - r["fresh_ms_median"]
        rows.append(
            f"| {r['server']} ({r['workers']} worker{'s' if r['workers'] > 1 else ''}) "
            f"| {r['n']} | {r['storm_ms_median']:.1f} | {r['fresh_ms_median']:.1f} "
            f"| {extra:+.1f} | {r['storm_over_fresh']:.2f} "
            f"| {', '.join(map(str, r['refreshes_per_storm']))} "
            f"| {', '.join(map(str, r['refresh_reuse']))} |"
        )
    return "\n".join(rows) + _notes(data)


def scale(data: dict[str, Any]) -> str:
    rows = [
        "| store | stored sessions | hot path µs/request | min-max | cold load µs | fill (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        rows.append(
            f"| {r['store']} | {r['sessions']:,} | {r['hot_us_median']:.2f} "
            f"| {r['hot_us_min']:.2f}-{r['hot_us_max']:.2f} | {r['cold_load_us_median']:.2f} "
            f"| {r['fill_seconds']:.1f} |"
        )
    rows += ["", "| store | hot path, largest / smallest | cold load, largest / smallest |"]
    rows.append("|---|---:|---:|")
    for store, ratio in data["ratios"].items():
        rows.append(
            f"| {store} ({ratio['to']:,} / {ratio['from']:,}) | **{ratio['hot']:.2f}x** "
            f"| {ratio['cold']:.2f}x |"
        )
    return "\n".join(rows) + _notes(data)


def staleness(data: dict[str, Any]) -> str:
    if not data["results"]:
        return _notes(data).strip()
    rows = [
        "| another process | trials | p50 (ms) | p99 (ms) | max (ms) | never seen |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        rows.append(
            f"| {r['label']} | {r['trials']} | {_f(r['p50_ms'])} | {_f(r['p99_ms'])} "
            f"| {_f(r['max_ms']) or 'n/a'} | {r['not_seen']} |"
        )
    return "\n".join(rows) + _notes(data)


def targets(items: list[dict[str, Any]]) -> str:
    rows = ["| target | measured | bound | met |", "|---|---:|---:|---|"]
    for t in items:
        if t["met"] is None:
            continue
        value = "n/a" if t["value"] is None else f"{t['value']:.2f}{t['unit']}"
        rows.append(
            f"| {t['description']} | {value} | {t['op']} {t['bound']:g}{t['unit']} "
            f"| {'yes' if t['met'] else '**no**'} |"
        )
    return "\n".join(rows)


def _notes(data: dict[str, Any]) -> str:
    notes = data.get("notes") or []
    return "\n\n" + "\n".join(f"- {n}" for n in notes) if notes else ""


def blocks(report: dict[str, Any]) -> dict[str, str]:
    out = {"run": run_info(report)}
    for name, render in (
        ("inprocess", inprocess),
        ("server", server),
        ("storm", storm),
        ("scale", scale),
        ("staleness", staleness),
    ):
        if name in report:
            out[name] = render(report[name])
    out["targets"] = targets(report["targets"])
    return out


def markdown(report: dict[str, Any]) -> str:
    titles = {
        "run": "Run",
        "inprocess": "In-process",
        "server": "Under a real server",
        "storm": "Refresh storm",
        "scale": "Store scale",
        "staleness": "Redis client cache: cross-process staleness",
        "targets": "Targets",
    }
    return "\n\n".join(f"### {titles[k]}\n\n{v}" for k, v in blocks(report).items()) + "\n"


def update_docs(report: dict[str, Any], root: Path) -> list[str]:
    """Replace the marked blocks in the docs; the names of the blocks replaced."""
    done = []
    for rel in DOCS:
        path = root / rel
        if not path.exists():
            continue
        text = path.read_text()
        for name, body in blocks(report).items():
            pattern = re.compile(
                rf"(<!-- benchmark:{name}:start -->\n).*?(<!-- benchmark:{name}:end -->)",
                re.DOTALL,
            )

            def fill(m: re.Match[str], body: str = body) -> str:
                return m.group(1) + body + "\n" + m.group(2)

            text, count = pattern.subn(fill, text)
            if count:
                done.append(f"{rel}:{name}")
        path.write_text(text)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown tables of a saved run")
    parser.add_argument("results", help="a file written by run.py --json")
    parser.add_argument("--update-docs", action="store_true", help="rewrite the docs' blocks")
    args = parser.parse_args(argv)
    report = json.loads(Path(args.results).read_text())
    if args.update_docs:
        done = update_docs(report, Path(__file__).resolve().parents[1])
        print(f"docs updated: {', '.join(done) or 'no marked blocks found'}")
    else:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
