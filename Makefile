# The two commands of the README: `make run` and `make test` (and `make bench`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test install lint typecheck pytest bench

# Reinstall whenever the lock file changes.
$(VENV)/.installed: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

install: $(VENV)/.installed

# The local run: development settings on the embedded SQLite database.
run: export DEBUG = true
run: install
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@if [ -z "$$REDIS_URL" ]; then echo "Rate limits: counted in this process's local memory (no REDIS_URL; usage is not metered); set REDIS_URL to share them."; fi
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	bash scripts/install-test-services.sh
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	DEBUG=true $(BIN)/mypy .

pytest: install
	$(BIN)/python -m pytest

# The comparison libraries the bench measures are not the app's: their own lock, same pins.
$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r bench/requirements.lock
	touch $@

bench: install $(VENV)/.bench-installed
	bash scripts/install-bench-tools.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)
