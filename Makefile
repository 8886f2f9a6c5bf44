# The two commands: `make demo` runs the demo, `make test` runs the tests.
# Both create .venv and install the pinned requirements first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2
HOST ?= 127.0.0.1:8000

.PHONY: demo test install lint fmt worker beat bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

demo: install  ## migrate, load demo data, serve on http://127.0.0.1:8000
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	@echo "\nOpen http://$(HOST)/ and sign in with one of the logins above.\n"
	DEBUG=true $(BIN)/python manage.py runserver $(HOST)

test: lint  ## lint (ruff, import contracts, mypy) + the whole test suite (integration/e2e need PostgreSQL, Redis, Chromium)
	$(BIN)/pytest -n $(JOBS) $(PYTEST_ARGS)

lint: install  ## ruff + import contracts + mypy (django-stubs), all clean
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install  ## a Celery worker on every queue (needs CELERY_BROKER_URL)
	$(BIN)/celery -A hitl_crm worker -Q ai,default,dispatch -l info

beat: install
	$(BIN)/celery -A hitl_crm beat -l info

clean:
	rm -rf $(VENV) var staticfiles test-artifacts .pytest_cache .ruff_cache
