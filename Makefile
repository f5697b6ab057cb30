# Two commands do the whole set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv and install Forewarn with the versions pinned in constraints.txt: `make demo` the lean core
# (ingest, train, backtest, score, detect, serve and the dashboard), `make test` everything (the deep, serve and
# stream extras and the dev tools). They are cheap to re-run: a stamp file per set remembers the install until
# pyproject.toml or constraints.txt changes, and a venv made by `make demo` is upgraded by `make test`.
# `make constraints` rewrites constraints.txt from the full venv (after a change of the dependencies in pyproject.toml).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORE_STAMP := $(VENV)/.installed-core
CONSTRAINTS := constraints.txt
# --no-compile: Python writes the bytecode of what it imports on first use, not ~140 MB for every module installed
PIP    := $(BIN)/python -m pip install --quiet --no-compile -c $(CONSTRAINTS)
# Benchmark data: a folder laid out like cmapss/, ai4i2020/, skab/ ...  The team's copy sits in
# ../shared/data beside the checkout, used when it is there; set FOREWARN_DATA_DIR to use another one.
# Without any, `make demo` runs on a simulated fleet and the dataset tests are skipped.
FOREWARN_DATA_DIR ?= $(wildcard $(abspath ../shared/data))
ifneq ($(FOREWARN_DATA_DIR),)
export FOREWARN_DATA_DIR
endif
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Debian packages that tests start as real servers: the MQTT broker, the browser for dashboard tests, PostgreSQL
# for the server store's tests (initdb and pg_ctl in a temporary folder), podman, runc and mmdebstrap for the
# container image and compose stack (issue 21); npm installs axe-core (pinned in package-lock.json), which the dashboard tests run in that browser.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast install system-deps lint bench clean constraints image stack-check stack-up stack-down test-deploy

install: $(STAMP)

system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v podman >/dev/null 2>&1 || missing="$$missing podman runc"; \
	command -v mmdebstrap >/dev/null 2>&1 || missing="$$missing mmdebstrap"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# the full set (every extra and the dev tools): `make test`, `make install`
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP) -e ".[dev,deep,serve,stream,federated,distributed,plan,postgres,quality,deploy]"
	touch $(CORE_STAMP) $(STAMP)

# the lean core: `make demo` (a venv that already has the full set keeps it)
$(CORE_STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP) -e .
	touch $(CORE_STAMP)

# exact pins of everything the core and every extra reach (scripts/constraints.py), from the full venv: run it after
# changing the dependencies in pyproject.toml (PIP_UPGRADE=1 moves every pin up to the newest the ranges allow)
constraints:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev,deep,serve,stream,federated,distributed,plan,postgres,quality,deploy]"
	$(BIN)/python scripts/constraints.py $(CONSTRAINTS)
	touch $(CORE_STAMP) $(STAMP)

demo: $(CORE_STAMP)
	$(BIN)/forewarn demo

# axe-core for the dashboard's accessibility tests, exactly as package-lock.json pins it (node_modules/ is ignored)
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(AXE)

# two pytest workers (pytest-xdist): the tests wait on servers, browsers and subprocesses as much as they compute;
# the container tests (marker deploy) run apart, in `make test-deploy`
test: $(STAMP) system-deps
	$(MAKE) $(AXE)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist worksteal -m "not deploy"

# the inner loop: everything but the tests marked slow (end-to-end runs, real servers and browsers, full datasets)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist worksteal -m "not slow and not deploy"

# ruff (lint and format), mypy (mypy.ini: strict for base/, schema.py, store/, features/; an override list
# elsewhere) and the import contracts of .importlinter (DESIGN.md's layers, no cycles); the dev extra that $(STAMP)
# installs has all of them
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis

# -- the container images and the compose stack (issue 21; deploy/README.md) ---------------------------------------
# Debian's podman (runc, cgroupfs, deploy/containers.conf) and mmdebstrap: no registry image, no Docker.
# `make image` builds localhost/forewarn (and the stack's mosquitto, prometheus and postgres images); `make stack-up`
# starts the stack and waits for a healthy /healthz, `make stack-down` stops it and removes its containers (the
# volumes, with the store, stay: `$(COMPOSE) down -v` deletes them too); `make test-deploy` runs tests/deploy.
# STORE=postgres (stack-up and stack-down alike): the stack on the PostgreSQL server store, deploy/compose.postgres.yaml
# on top of deploy/compose.yaml, its database password in $(DEPLOY_DB_SECRET) (made when missing).
STORE ?= duckdb
DEPLOY_SECRET := deploy/secrets/forewarn_api_token
DEPLOY_DB_SECRET := deploy/secrets/forewarn_db_password
COMPOSE := CONTAINERS_CONF=$(CURDIR)/deploy/containers.conf $(BIN)/podman-compose -f deploy/compose.yaml \
	$(if $(filter postgres,$(STORE)),-f deploy/compose.postgres.yaml)
STACK_IMAGES := localhost/forewarn:latest $(if $(filter postgres,$(STORE)),localhost/forewarn-postgres:latest)

image: $(CORE_STAMP) system-deps
	deploy/build-image.sh $(BIN)/python

$(BIN)/podman-compose: $(CORE_STAMP)
	$(PIP) podman-compose

# the token and the database password: random, mode 600, owned by the service's uid 10001 (the database's
# container reads its secret as root before it drops to the postgres user)
$(DEPLOY_SECRET) $(DEPLOY_DB_SECRET):
	mkdir -p deploy/secrets
	(umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(24))" > $@)
	chown 10001 $@ 2>/dev/null || podman unshare chown 10001 $@

stack-check:
	@case "$(STORE)" in duckdb|postgres) ;; *) echo "STORE=$(STORE): duckdb (the default) or postgres" >&2; exit 2;; esac

stack-up: stack-check $(BIN)/podman-compose $(DEPLOY_SECRET) $(if $(filter postgres,$(STORE)),$(DEPLOY_DB_SECRET))
	missing=""; for i in $(STACK_IMAGES); do \
	  CONTAINERS_CONF=$(CURDIR)/deploy/containers.conf podman image exists $$i || missing="$$missing $$i"; \
	done; [ -z "$$missing" ] || $(MAKE) image
	$(COMPOSE) up -d
	@for i in $$(seq 1 120); do \
	  FOREWARN_PORT=$${FOREWARN_PORT:-8000} python3 deploy/healthcheck.py 2>/dev/null && \
	    { echo "Forewarn is healthy: http://127.0.0.1:$${FOREWARN_PORT:-8000}/ (token in $(DEPLOY_SECRET))"; exit 0; }; \
	  sleep 0.5; \
	done; echo "the service did not become healthy in 60 s; see: podman logs forewarn_forewarn_1" >&2; exit 1

stack-down: stack-check $(BIN)/podman-compose
	$(COMPOSE) down

test-deploy: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider -m deploy -s tests/deploy
