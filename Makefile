# Entry points: `make run` starts a local server; `make check` runs lint, types, the import
# contract and the unit tier on SQLite (minutes); `make test` runs those and the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run check test lint typecheck imports clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/scaisend serve $(if $(CONFIG),--config $(CONFIG))

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

imports: $(STAMP)
	$(VENV)/bin/lint-imports

# Workers for the suite (pytest-xdist). The unit tier is mostly CPU: one worker a core. The
# integration tier mostly waits on servers and sockets: more workers than cores; a module
# that shares one server keeps its tests on one worker (xdist_group, --dist loadgroup).
CHECK_WORKERS ?= 2
TEST_WORKERS ?= 4
# The suite starts hundreds of Python processes (servers, `scaisend token`, the CLI): their
# bytecode is cached under var/, out of the tree, also where PYTHONDONTWRITEBYTECODE is set.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache $(PY) -m pytest -q

check: $(STAMP) lint typecheck imports
	$(PYTEST) -n $(CHECK_WORKERS) -m "not integration and not postgresql"

test: $(STAMP) lint typecheck imports
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup

clean:
	rm -rf $(VENV) var

# dist/scaisend_<version>_<arch>.deb (docs/operations.md, "Install"); needs
# apt-get install debhelper dh-virtualenv python3-venv, and says so when they are missing.
# (A .PHONY line of its own: the list above is being changed at the same time elsewhere.)
.PHONY: deb
deb:
	debian/make-deb
