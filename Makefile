# LLM Observatory. `make run` starts the service with demo data; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SEED_ARGS ?=

SPANS ?= 1000000

.PHONY: install run test lint format bench bench-smoke bench-load-floor soak clean-data

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements/dev.txt
	@touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py seed_demo $(SEED_ARGS)
	@echo ""
	@echo "  LLM Observatory is starting on http://$(HOST):$(PORT)/"
	@echo "  API docs:  http://$(HOST):$(PORT)/api/docs/"
	@echo "  Admin:     http://$(HOST):$(PORT)/admin/"
	@echo "  Logins:    demo-admin / demo-password  (also demo-developer, demo-viewer, demo-billing)"
	@echo ""
	HOST=$(HOST) PORT=$(PORT) exec $(VENV)/bin/gunicorn -c observatory/gunicorn.conf.py

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The SPEC §12 benchmark: `make bench` (1M spans) or `make bench SPANS=10000000`.
bench: install
	$(PY) -m bench.run --spans $(SPANS)

# A tiny run that checks every scenario answers correctly (no timing assertions).
bench-smoke: install
	$(PY) -m bench.run --spans 20000 --requests 20 --warmup 5 --ingest-batches 10 --smoke
	$(PY) -m bench.load_floor --spans 20000 --sample 5000

# What storing a loaded dataset's rows and computing their rollups take at best: the floor under the
# load rate (bench/load_floor.py; after `make bench SPANS=...`).
bench-load-floor: install
	$(PY) -m bench.load_floor --spans $(SPANS)

# Steady OTLP ingest with the visibility lag probed throughout (bench/soak.py; SOAK_RATE spans/s for SOAK_SECONDS;
# SOAK_SESSIONS=per-span gives every span a session of its own).
SOAK_RATE ?= 3000
SOAK_SECONDS ?= 150
SOAK_SESSIONS ?= recurring
soak: install
	$(PY) -m bench.soak --spans $(SPANS) --rate $(SOAK_RATE) --seconds $(SOAK_SECONDS) --sessions $(SOAK_SESSIONS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean-data:
	rm -rf .data
