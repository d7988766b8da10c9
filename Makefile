# Two commands on a fresh machine:
#   make demo   set up and run the suite on demo data (SQLite + local Dask cluster)
#   make test   set up (incl. PostGIS and GDAL clients) and run lint, types and all tests
DATA ?=
PYTEST_ARGS ?=
# Two pytest-xdist workers (2 cores); tests/conftest.py keeps the tests of each session
# fixture that boots servers on one worker, so each boots once, and queues the longest
# groups first (tests/xdist_groups.py LONGEST_FIRST). PYTEST_WORKERS= runs serially.
PYTEST_WORKERS ?= -n 2 --dist loadgroup --no-loadscope-reorder

.PHONY: setup setup-system demo test lint

setup:
	@scripts/setup.sh

setup-system:
	@scripts/setup.sh --system

demo: setup
	.venv/bin/ogcsdl demo $(if $(DATA),--data $(DATA),)

lint:
	.venv/bin/ruff check ogcsdl processes conformance tests benchmarks
	.venv/bin/ruff format --check ogcsdl processes conformance tests benchmarks
	.venv/bin/mypy

test: setup-system lint
	.venv/bin/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)
