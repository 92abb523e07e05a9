# The Cabin Registry: `make run` serves it, `make test` tests it, on a fresh Debian machine.
# With no DATABASE_URL, a project-local PostgreSQL 15 + PostGIS cluster runs under .local/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
REGISTRY := $(VENV)/bin/registry
PORT ?= 8000
export PORT
POSTGIS_CONTROL := /usr/share/postgresql/15/extension/postgis.control
# The database URL for every command below: the caller's, or the local cluster's.
WITH_DB = DATABASE_URL="$${DATABASE_URL:-$$($(REGISTRY) localdb url)}"
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help run test stop setup system venv db data web lint openapi logs

help:
	@echo "make run   - install what is missing, start PostGIS, migrate, load data, serve on PORT ($(PORT))"
	@echo "make test  - the same set-up, then the whole test suite"
	@echo "make stop  - stop the service and the local database started by make run"
	@echo "make lint  - ruff (lint + format check) and mypy"
	@echo "make web   - build the web pages' assets (npm ci + esbuild) when missing or stale"
	@echo "make setup - install, start PostGIS, migrate and load the data, without serving"
	@echo "make logs  - follow the service's log (.local/server.log)"
	@echo "make openapi - write openapi.yaml from the app (a test fails when it drifts)"

## Set-up ------------------------------------------------------------------------------------

system:
	@missing=""; \
	[ -f $(POSTGIS_CONTROL) ] || missing="$$missing postgresql-15-postgis-3"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v ogrinfo >/dev/null || missing="$$missing gdal-bin"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing from Debian:$$missing (PostGIS; Chromium and GDAL for the browser and OGC client tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "==> installing the project in $(VENV)"
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip
	@$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

db: system venv
	@if [ -z "$${DATABASE_URL:-}" ]; then echo "==> local PostgreSQL"; $(REGISTRY) localdb start; fi
	@echo "==> migrating"
	@$(WITH_DB) $(REGISTRY) db upgrade

data: db
	@$(WITH_DB) $(REGISTRY) setup-data

# The web pages' assets: npm ci when the lock file changed, esbuild when a source changed. The
# built files are committed too (service/web/static/), so a machine without npm still serves.
FRONTEND := service/web/frontend
WEB_SOURCES := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/build.mjs

web: $(FRONTEND)/node_modules/.package-lock.json service/web/static/carte.js

$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	@if command -v npm >/dev/null; then \
	  echo "==> installing the front-end tools (npm ci)"; \
	  cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	else echo "==> npm is missing: serving the committed assets; the accessibility test needs it"; fi

service/web/static/carte.js: $(WEB_SOURCES) $(FRONTEND)/package-lock.json
	@if command -v npm >/dev/null && [ -d $(FRONTEND)/node_modules ]; then \
	  echo "==> building the web pages' assets"; cd $(FRONTEND) && npm run --silent build; \
	fi

setup: data web

## Serving -----------------------------------------------------------------------------------

run: setup
	@if [ -f .local/server.pid ] && kill -0 "$$(cat .local/server.pid)" 2>/dev/null; then \
	  echo "==> already serving on port $(PORT) (pid $$(cat .local/server.pid))"; \
	else \
	  echo "==> serving on http://localhost:$(PORT) (log: .local/server.log)"; \
	  mkdir -p .local; \
	  $(WITH_DB) nohup $(REGISTRY) serve --host 0.0.0.0 --port $(PORT) >>.local/server.log 2>&1 & echo $$! >.local/server.pid; \
	fi
	@for i in $$(seq 1 100); do \
	  if curl -fs -o /dev/null http://127.0.0.1:$(PORT)/health; then echo "==> ready: http://localhost:$(PORT)/health"; exit 0; fi; \
	  if ! kill -0 "$$(cat .local/server.pid)" 2>/dev/null; then echo "the service did not start:"; tail -20 .local/server.log; exit 1; fi; \
	  sleep 0.2; \
	done; echo "the service did not answer in 20 s"; tail -20 .local/server.log; exit 1

logs:
	@tail -f .local/server.log

stop:
	@if [ -f .local/server.pid ] && kill "$$(cat .local/server.pid)" 2>/dev/null; then echo "==> service stopped"; fi
	@rm -f .local/server.pid
	@if [ -x $(REGISTRY) ] && [ -d .local/pgdata ]; then $(REGISTRY) localdb stop; fi

## Checks ------------------------------------------------------------------------------------

test: db web
	@echo "==> tests"
	@$(WITH_DB) $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	@$(VENV)/bin/ruff check service tests alembic bench
	@$(VENV)/bin/ruff format --check service tests alembic bench
	@$(VENV)/bin/mypy service

openapi: venv
	@$(REGISTRY) openapi --write
