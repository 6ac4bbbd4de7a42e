# The two commands: `make run` starts the whole centre, `make test` runs the whole suite.
# Both install what is missing first (Debian packages, virtualenv, Asterisk 22 root) and are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := var/dev

.PHONY: run test lint format setup system

run: setup
	@root=$$(bash scripts/asterisk-root.sh) && \
	$(BIN)/callcenter dev-setup --dir $(DEV) >/dev/null && \
	echo "Logins for the console and API (role, user, password):" && cat $(DEV)/logins && \
	NGALAM_ASTERISK_ROOT=$$root exec $(BIN)/callcenter -c $(DEV)/callcenter.toml run --local-asterisk

# Test files are shared out to TEST_WORKERS processes (each starts its own Asterisk and controller);
# a file's tests stay together, in order. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2

test: setup lint
	NGALAM_ASTERISK_ROOT=$$(bash scripts/asterisk-root.sh) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: setup
	$(BIN)/ruff check callcenter tests bench
	$(BIN)/ruff format --check callcenter tests bench
	$(BIN)/mypy callcenter

format: setup
	$(BIN)/ruff check --fix callcenter tests bench
	$(BIN)/ruff format callcenter tests bench

setup: system $(STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $@
