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

test: setup lint
	NGALAM_ASTERISK_ROOT=$$(bash scripts/asterisk-root.sh) $(BIN)/pytest

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
