# Two commands do the whole set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv, install Forewarn with what it needs, and are cheap to re-run (a stamp file
# remembers the install until pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Benchmark data: a folder laid out like cmapss/, ai4i2020/, skab/ ...  The team's copy sits in
# ../shared/data beside the checkout, used when it is there; set FOREWARN_DATA_DIR to use another one.
# Without any, `make demo` runs on a simulated fleet and the dataset tests are skipped.
FOREWARN_DATA_DIR ?= $(wildcard $(abspath ../shared/data))
ifneq ($(FOREWARN_DATA_DIR),)
export FOREWARN_DATA_DIR
endif
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Debian packages that tests start as real servers: the MQTT broker and the browser for dashboard tests; npm
# installs axe-core (pinned in package-lock.json), which the dashboard tests run in that browser.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install system-deps lint bench clean

install: $(STAMP)

system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,deep,serve,stream]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/forewarn demo

# axe-core for the dashboard's accessibility tests, exactly as package-lock.json pins it (node_modules/ is ignored)
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(AXE)

test: $(STAMP) system-deps
	$(MAKE) $(AXE)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis
