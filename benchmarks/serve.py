"""The benchmark app for a real server: ``gunicorn benchmarks.serve:app`` or
``uvicorn benchmarks.serve:app``.

Environment:
    BENCH_APP              one of ``benchmarks.apps.APP_KINDS`` (e.g. ``asgi-thunderid``)
    BENCH_STORE            the middleware's store URL (default ``memory://``)
    BENCH_SEED_SESSION_ID  when set, a signed-in session with this id is written into the
                           store at import, in the worker process: so a memory store (one
                           per process) holds it too
"""

from __future__ import annotations

import os

from benchmarks.apps import build_app

app = build_app(
    os.environ.get("BENCH_APP", "asgi-bare"),
    os.environ.get("BENCH_STORE", "memory://"),
    os.environ.get("BENCH_SEED_SESSION_ID") or None,
)
