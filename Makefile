# Developer and CI entry points. `make test` is what CI runs (.ci/run).
PY := .venv/bin/python

.PHONY: setup lint test demo

setup:
	bash scripts/bootstrap.sh

lint: setup
	.venv/bin/ruff check thunderid_mw tests examples benchmarks
	.venv/bin/mypy
	.venv/bin/python scripts/unasync.py --check

test: setup lint
	$(PY) -m pytest -q

demo: setup
	$(PY) examples/run_demo.py
