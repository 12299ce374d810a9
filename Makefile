# Two commands: `make demo` and `make test`. Each sets itself up on a fresh machine.
PY    ?= python3
TOOLS := .tools
UV    := $(TOOLS)/bin/uv
VENV  := .venv
BIN   := $(VENV)/bin
PORT  ?= 8000

.PHONY: setup demo test lint bench clean

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==0.13.9"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PY)
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(BIN)/tutela demo --port $(PORT)

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/tutela rules check

test: lint
	bash scripts/ensure-services.sh
	$(BIN)/pytest -q

bench: setup
	bash scripts/ensure-services.sh
	$(BIN)/python bench/decisions.py --quick
	$(BIN)/python bench/audit.py --quick
	$(BIN)/python bench/erasure.py --quick
	$(BIN)/python bench/media.py --quick
	$(BIN)/python bench/age_combine.py --quick
	$(BIN)/python bench/startup.py --quick
	$(BIN)/python bench/adreq.py --quick
	$(BIN)/python bench/ledger.py --quick
	$(BIN)/python bench/stream_guard.py --quick
	$(BIN)/python bench/transfer_gate.py --quick

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .hypothesis
