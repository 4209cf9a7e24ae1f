"""Benchmarks of the middleware's per-request cost (``python benchmarks/run.py``).

Not part of the test suite; ``tests/benchmarks/`` runs each scenario once, untimed, so the
code here cannot rot. See ``docs/performance.md``.
"""
