# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test lint typecheck unit bench clean redis-server postgresql node-sdk chromium bench-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(wildcard requirements-*.txt)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]' $(foreach f,$(wildcard requirements-*.txt),-r $(f))
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime  ## start the gateway on 127.0.0.1:8000 (the emulator stands in when no key is set)
	$(BIN)/image-gateway serve $(ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The shared-state and async-job tests start their own redis-server (Debian package).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (Debian package) for the shared-state tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# The usage ledger tests start their own PostgreSQL cluster (initdb + postgres from the Debian package).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing postgresql (Debian package) for the usage ledger tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# The Node SDK tests run npm's openai (tests/node/package-lock.json); Node.js from Debian if missing.
node-sdk:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing nodejs and npm (Debian packages) for the Node SDK tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	@test -d tests/node/node_modules/openai || (cd tests/node && npm ci --no-audit --no-fund --silent)

# The console's browser tests drive Debian's chromium through its chromedriver (Selenium; no browser download).
chromium:
	@test -x /usr/bin/chromedriver || { \
	  echo "installing chromium and chromium-driver (Debian packages) for the console's browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: lint typecheck redis-server postgresql node-sdk chromium  ## lint, type-check and run the whole suite
	REQUIRE_NODE_SDK=1 REQUIRE_BROWSER=1 $(BIN)/python -m pytest

unit: $(VENV)/.dev
	$(BIN)/python -m pytest tests/unit

# The benchmarks' upstream (nginx with the echo module) and load generator (wrk), from Debian.
bench-tools:
	@{ command -v wrk && command -v nginx && ls /usr/lib/nginx/modules/ngx_http_echo_module.so; } >/dev/null 2>&1 || { \
	  echo "installing nginx, its echo module and wrk (Debian packages) for the benchmarks"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx libnginx-mod-http-echo wrk >/dev/null; }

bench: $(VENV)/.dev bench-tools
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
