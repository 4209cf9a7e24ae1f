# Developer and CI entry points. `make test` is what CI runs (.ci/run).
PY := .venv/bin/python

.PHONY: setup lint docs test demo

setup:
	bash scripts/bootstrap.sh

lint: setup
	.venv/bin/ruff check thunderid_mw tests examples benchmarks scripts
	.venv/bin/mypy
	.venv/bin/python scripts/unasync.py --check

# The docs site (mkdocs.yml), warnings as errors: broken links, anchors and docstrings fail.
docs: setup
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet

# Two workers, whole files to one worker (a module's servers and fixtures stay together).
test: setup lint docs
	$(PY) -m pytest -q -n 2 --dist loadfile

demo: setup
	$(PY) examples/run_demo.py $(if $(PROFILE),--profile $(PROFILE))
