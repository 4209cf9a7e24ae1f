"""One functional run of each benchmark scenario (``benchmarks/``), so the benchmark
cannot rot: the same code paths, tiny sizes, and no timing asserted anywhere.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from benchmarks import apps, inprocess, report, scale, server, staleness, storm
from benchmarks.common import COOKIE_NAME, new_session_id
from benchmarks.targets import evaluate
from tests.support.idp import IdP
from thunderid_mw.stores import MemoryStore


def test_inprocess_every_variant_answers_200(redis_url: str, tmp_path: Path) -> None:
    setup = inprocess.build(redis_url, tmp_path)
    try:
        checks = inprocess.check(setup)
        for variant in setup.variants:
            variant.timer(3)  # the measuring loop itself runs
        written = setup.writes()
    finally:
        setup.close()

    assert {key: status for key, (status, _) in checks.items()} == dict.fromkeys(checks, 200)
    signed_in = {key: seen for key, (_, seen) in checks.items() if seen is not None}
    assert signed_in == {
        "wsgi.memory": True,
        "wsgi.signed_out": False,
        "wsgi.sqlite": True,
        "wsgi.redis": True,
        "wsgi.redis_cached": True,
        "wsgi.flask_thunderid": True,
        "asgi.memory": True,
        "asgi.signed_out": False,
        "asgi.sqlite": True,
        "asgi.redis": True,
        "asgi.redis_cached": True,
    }
    assert written == [], "a request on the hot path wrote to the store"


def test_inprocess_results_feed_the_targets_and_the_docs(tmp_path: Path) -> None:
    setup = inprocess.build(None, tmp_path)
    try:
        results = inprocess.measure(setup, rounds=1, round_seconds=0.001)
    finally:
        setup.close()
    section = {"results": [r.as_json() for r in results], "notes": []}
    targets = evaluate("inprocess", section)
    names = {t.name for t in targets}
    assert "inprocess.asgi.session_middleware_over_memory" in names
    assert "inprocess.wsgi.signed_out_overhead_us" in names

    report_data = {
        "mode": "quick",
        "seconds": 1.0,
        "machine": {"python": "3", "platform": "x", "cpus": 2, "load_average_at_start": None},
        "inprocess": section,
        "targets": [t.as_json() for t in targets],
    }
    doc = tmp_path / "docs" / "performance.md"
    doc.parent.mkdir()
    doc.write_text("a\n<!-- benchmark:inprocess:start -->\nold\n<!-- benchmark:inprocess:end -->\n")
    assert report.update_docs(report_data, tmp_path) == ["docs/performance.md:inprocess"]
    text = doc.read_text()
    assert "old" not in text and "| Starlette SessionMiddleware (peer)" in text.replace("ASGI ", "")
    assert "### Targets" in report.markdown(report_data)


def test_server_apps_answer_200_signed_in(tmp_path: Path) -> None:
    session_id = new_session_id()
    targets = server.targets(session_id, tmp_path / "sessions.sqlite3")
    assert {t.app for t in targets} == set(apps.APP_KINDS)
    started = []
    try:
        for target in targets:
            srv = server.start(target, session_id, tmp_path)
            started.append(srv)
            response = httpx.get(
                srv.url + server.PATH, headers={"Cookie": target.cookie}, timeout=10
            )
            assert response.status_code == 200, (target.key, response.text[:300])
            if target.app.endswith("thunderid"):
                # The measured path is protected: without the session it is not a 200, so
                # wrk would count the run's answers as errors.
                response = httpx.get(
                    srv.url + server.PATH, headers={"Accept": "application/json"}, timeout=10
                )
                assert response.status_code == 401, (target.key, response.status_code)
    finally:
        for srv in started:
            server.stop(srv)


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_storm_counts_exactly_one_refresh(idp_reset: IdP, tmp_path: Path, kind: str) -> None:
    app = storm.start_app(kind, idp_reset, tmp_path)
    result = storm.StormResult(kind, storm.APPS[kind][1], n=12)
    try:
        storm.storm_once(idp_reset, app, 12, result)
    finally:
        storm.stop(app)

    assert result.failures == []
    assert result.refreshes == [1]
    assert result.reused == [0]
    assert len(result.storm_ms) == len(result.fresh_ms) == 1


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
def test_scale_loads_sessions_among_others(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    def make(i: int) -> scale.Backend:
        if store == "memory":
            return scale.MemoryBackend(MemoryStore())
        if store == "sqlite":
            return scale.SQLiteBackend(tmp_path / f"scale-{i}.sqlite3")
        url: str = request.getfixturevalue("redis_url")
        return scale.RedisBackend(f"{url.rsplit('/', 1)[0]}/{i + 1}")  # a database per size

    # 1 000 stored sessions, then 1 000 among 1 500 (the bulk fill path runs too).
    results = scale.measure(make, (1_000, 1_500), rounds=1, round_seconds=0.001)

    assert [r.size for r in results] == [1_000, 1_500]
    assert [r.signed_in for r in results] == [scale.WORKING_SET] * 2
    assert set(scale.ratios(results)) == {store}


def test_cookie_name_matches_the_library_default() -> None:
    from thunderid_mw import SessionCookieConfig

    assert SessionCookieConfig().name == COOKIE_NAME


def test_breakdown_runs_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import breakdown

    assert breakdown.main(["--number", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("[the hot path]") == 2, out  # memory and SQLite


def test_staleness_sees_every_change_of_another_process(redis_url: str) -> None:
    results = staleness.measure(redis_url, trials=3)
    rows = [r.as_json() for r in results]

    assert [row["key"] for row in rows] == ["delete", "rotate"]
    assert [(row["trials"], row["not_seen"]) for row in rows] == [(3, 0), (3, 0)]
    assert all(row["max_ms"] is not None for row in rows)
    targets = evaluate("staleness", {"results": rows, "notes": []})
    assert {t.name for t in targets if t.op} == {
        "staleness.delete.max_ms",
        "staleness.rotate.max_ms",
    }
    assert "| signed out (record deleted) | 3 |" in report.staleness({"results": rows})
