# madoguchi — `make run` to chat with the bot in a browser, `make test` to run every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
# -qq: errors only. A site pip configuration listing package indexes that lack a package
# otherwise prints one "Location … is ignored" warning per package (53 on a fresh venv).
PIP    := $(VENV)/bin/pip --disable-pip-version-check -qq

.PHONY: run test test-fast lint typecheck bench venv dev-venv browser postgresql nginx clean

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

## Start the LINE emulator + chat simulator, the bot (gunicorn) and the delivery worker.
run: $(VENV)/.runtime
	$(PY) scripts/dev.py

## Install what the tests need (venv, Debian's chromium, PostgreSQL and nginx), check the code
## (ruff, mypy) and run the whole suite.
test: lint typecheck $(VENV)/.dev browser postgresql nginx
	$(PY) -m pytest -q

## The quick loop while coding: no slow, browser or end-to-end tests, and the both-engines tests on
## SQLite only (their PostgreSQL runs are marked slow). Two processes (pytest-xdist): about a minute
## of CPU in all, 40-50 s on two free cores, about 2 minutes when other work keeps them busy;
## FAST_WORKERS=0 runs it in one process.
FAST_WORKERS ?= 2
test-fast: $(VENV)/.dev
	$(PY) -m pytest -q -n $(FAST_WORKERS) -m "not slow and not browser and not e2e"

## Debian's chromium for the Playwright browser tests (no browser download).
browser:
	@bash scripts/ensure-chromium.sh

## Debian's PostgreSQL server binaries: the tests start a throwaway cluster of their own.
postgresql:
	@bash scripts/ensure-postgresql.sh

## Debian's nginx: the slow-client test runs deploy/nginx.conf in front of gunicorn.
nginx:
	@bash scripts/ensure-nginx.sh

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Types of the lower layers (configured in pyproject.toml).
typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy

bench: $(VENV)/.dev
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache
