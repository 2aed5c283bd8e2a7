# CRANE: `make up` runs the whole suite, `make test` runs every test, `make down` cleans up.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# CRANE's Python packages: every crane_* package in the folders crane-packages.txt lists.
PACKAGE_INITS := $(foreach d,$(shell grep -v -e '^[[:space:]]*\#' -e '^[[:space:]]*$$' crane-packages.txt),$(wildcard $(d)/crane_*/__init__.py))
MYPY_PACKAGES := $(foreach f,$(PACKAGE_INITS),-p $(notdir $(patsubst %/__init__.py,%,$(f))))
COMPOSE := docker compose --project-directory deploy -f deploy/compose.yaml
CRANE_API_PORT ?= 8000
CRANE_HTTP_PORT ?= 80
CRANE_DASHBOARD_PORT ?= 8080
export CRANE_API_PORT CRANE_HTTP_PORT CRANE_DASHBOARD_PORT

CLI_INSTALL := $(shell command -v pipx >/dev/null 2>&1 && echo 'pipx install --force' || echo 'python3 -m pip install --user')

.PHONY: cli console run-deps help deps docker system-packages compose test fuzz chaos test-unit check lint docs up down logs ps bench bench-all clean

help:
	@echo "make up      start the whole suite (installs and starts Docker Engine if needed)"
	@echo "make test    run all tests (unit, integration, end to end)"
	@echo "make down    stop the suite and remove everything it created"
	@echo "make fuzz    fuzz the API with schemathesis (1,000+ requests)"
	@echo "make chaos   fault tests: services, NATS and the Docker daemon killed during deploys"
	@echo "make bench   measure deploy, healing and autoscaling times (bench/)"
	@echo "make bench-all  every benchmark: builds, scale-out, data path, 250 apps (about 25 minutes)"
	@echo "make lint    ruff; make docs regenerates docs/events.md"
	@echo "make cli     install the crane command for you (pipx, or pip --user)"

# What running the suite needs (make up): the services' packages, the host tools that build
# its images offline, and the crane command. The test tools come on top (make test).
$(VENV)/.runtime: requirements.txt requirements-host.txt cli/pyproject.toml crane-packages.txt
	@bash scripts/ensure-venv.sh $(VENV)
	@echo "==> installing Python packages into $(VENV)"
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -r requirements-host.txt
	@$(PY) -m pip install --quiet -e ./cli
	@sh scripts/install-packages-pth.sh $(PY) .
	@touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-dev.txt
	@echo "==> installing the test tools into $(VENV)"
	@$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

run-deps: $(VENV)/.runtime compose
	@bash scripts/ensure-system-packages.sh run

deps: $(VENV)/.installed system-packages compose

system-packages:
	@bash scripts/ensure-system-packages.sh test

docker:
	@bash scripts/ensure-docker.sh

compose: $(VENV)/.runtime docker
	@bash scripts/install-compose.sh $(VENV)/bin

test: deps docker check console
	@if [ -d console/node_modules ]; then echo "==> console component tests (vitest)"; cd console && npx vitest run; \
	else echo "!!! SKIPPED: the console's component tests (vitest) and browser tests: no Node.js 20+ here (install nodejs and npm)"; fi
	$(PY) -m pytest

check: $(VENV)/.installed
	@echo "==> ruff and mypy (strict) on shared/ and the services"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy $(MYPY_PACKAGES)

# Long property-based fuzzing of the API (at least 1,000 generated requests, random seed).
fuzz: deps docker
	CRANE_FUZZ_EXAMPLES=60 $(PY) -m pytest tests/integration/test_fuzz_api.py -s

# Fault tests: longer deploy bursts while each part is SIGKILLed, and a Docker daemon restart
# (which stops every container on the machine). Figures: /tmp/crane-chaos-report.jsonl.
chaos: deps docker
	@rm -f /tmp/crane-chaos-report.jsonl
	CRANE_CHAOS_APPS=20 $(PY) -m pytest tests/chaos -m "chaos or not chaos" -s
	@echo "==> figures (sent, accepted, lost, recovery):"; cat /tmp/crane-chaos-report.jsonl

test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

lint: check
	$(VENV)/bin/ruff format --check .

docs: $(VENV)/.installed
	$(PY) -m crane_shared.events_doc docs/events.md

CONSOLE_SOURCES := $(shell find console/src -type f 2>/dev/null) console/index.html console/package.json console/package-lock.json console/vite.config.ts

console/dist/index.html: $(CONSOLE_SOURCES)
	@bash scripts/build-console.sh

console: console/dist/index.html

up: docker run-deps console
	@$(PY) deploy/crane_images.py build
	@$(PY) -m crane_shared.nats_auth deploy/.secrets/$${CRANE_SUITE:-crane}
	@$(PY) deploy/admin_setup.py deploy/.secrets/$${CRANE_SUITE:-crane} "$${CRANE_ADMIN_EMAIL:-}"
	@echo "==> starting the suite"
	@$(COMPOSE) up -d --remove-orphans
	@$(PY) deploy/wait_ready.py http://127.0.0.1:$(CRANE_API_PORT)/health
	@echo
	@echo "CRANE is up."
	@echo "  Console    http://localhost:$(CRANE_API_PORT)/"
	@echo "  API        http://localhost:$(CRANE_API_PORT)/api/v1   (docs: http://localhost:$(CRANE_API_PORT)/docs)"
	@echo "  Admin      $${CRANE_ADMIN_EMAIL:-admin@example.com}, password in deploy/.secrets/$${CRANE_SUITE:-crane}/admin.password"
	@echo "  CLI        $(VENV)/bin/crane login --api http://localhost:$(CRANE_API_PORT)   (make cli puts crane on your PATH)"
	@echo "  Apps       http://<app-id>.localhost:$(CRANE_HTTP_PORT)/"
	@echo "  Traefik    http://localhost:$(CRANE_DASHBOARD_PORT)/dashboard/"
	@echo "  NATS       nats://localhost:4222  (direct publishers: user client, password in deploy/.secrets/$${CRANE_SUITE:-crane}/client.password)"
	@echo "  Prometheus http://localhost:$${CRANE_PROMETHEUS_PORT:-9090}/   Alertmanager http://localhost:$${CRANE_ALERTMANAGER_PORT:-9093}/"

down:
	@bash scripts/down.sh

# The crane command for your user (on PATH as ~/.local/bin/crane); `make up` puts it in the venv too.
cli:
	$(CLI_INSTALL) ./cli
	@echo "==> crane installed: try crane --help (the venv has it as $(VENV)/bin/crane)"

logs:
	@$(COMPOSE) logs --tail=100 -f

ps:
	@$(COMPOSE) ps

bench: deps docker
	$(PY) bench/deploy_latency.py
	$(PY) bench/autoscale_reaction.py

# Every benchmark, each ratio measured side by side in its own run (about 25 minutes on 2 cores);
# bench/README.md has the last figures. Never part of make test.
bench-all: deps docker
	$(PY) bench/deploy_latency.py --trials 5
	$(PY) bench/stack_build.py --trials 3
	$(PY) bench/autoscale_reaction.py --trials 10 --default-trials 0
	$(PY) bench/data_path.py
	$(PY) bench/idle_cost.py --apps 30
	$(PY) bench/many_apps.py --apps 250 --settle 45

clean: down
	rm -rf $(VENV) deploy/.build
