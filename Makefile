# Entry points: `make run` starts a local server; `make check` runs lint, types, the import
# contract and the unit tier on SQLite (minutes); `make test` runs those and the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
# `make run` installs what serving needs; `make check` / `make test` add the dev extras
# (pytest, mypy, ruff, schemathesis, SendGrid's client, asyncpg). pip shows its progress.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run check test lint typecheck imports clean deb

$(PY):
	@echo "make: creating the virtual environment $(VENV)"
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	@echo "make: installing ScaiSend and what serving needs into $(VENV) (the first time only)"
	$(PY) -m pip install --progress-bar on -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	@echo "make: installing ScaiSend with the development tools into $(VENV)"
	$(PY) -m pip install --progress-bar on -e '.[dev]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/scaisend serve $(if $(CONFIG),--config $(CONFIG))

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

imports: $(DEV_STAMP)
	$(VENV)/bin/lint-imports

# Workers for the suite (pytest-xdist). The unit tier is mostly CPU: one worker a core. The
# integration tier mostly waits on servers and sockets: more workers than cores; a module
# that shares one server keeps its tests on one worker (xdist_group, --dist loadgroup).
CHECK_WORKERS ?= 2
TEST_WORKERS ?= 4
# The suite starts hundreds of Python processes (servers, `scaisend token`, the CLI): their
# bytecode is cached under var/, out of the tree, also where PYTHONDONTWRITEBYTECODE is set.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache $(PY) -m pytest -q

check: $(DEV_STAMP) lint typecheck imports
	$(PYTEST) -n $(CHECK_WORKERS) -m "not integration and not postgresql"

test: $(DEV_STAMP) lint typecheck imports
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup

clean:
	rm -rf $(VENV) var

# dist/scaisend_<version>_<arch>.deb (docs/operations.md, "Install"); needs
# apt-get install debhelper dh-virtualenv python3-venv, and says so when they are missing.
deb:
	debian/make-deb
