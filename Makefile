# Two commands for a fresh clone: `make demo` and `make test`. Both create the virtual environment.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint unit bench reliability clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job on the embedded default: SQLite + the sandbox portals + 80 demo AR records; the
## workspace is kept, and the last line says how to browse it (`portalhub web`) and the demo login.
demo: $(STAMP)
	$(BIN)/portalhub demo --keep

## The whole test suite, with the static checks the code is held to.
test: $(STAMP) lint unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: $(STAMP)
	$(BIN)/pytest

## Benchmarks against their targets (bench/README.md): tables printed, JSON in bench/results/.
bench: $(STAMP)
	$(BIN)/python -m bench.rules_engine
	$(BIN)/python -m bench.preflight
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.end_to_end
	$(BIN)/python -m bench.end_to_end --latency 0.1
	$(BIN)/python -m bench.many_profiles
	$(BIN)/python -m bench.polling
	$(BIN)/python -m bench.claims_pg
	$(BIN)/python -m bench.store_size
	$(BIN)/python -m bench.cli_start
	$(BIN)/python -m bench.webportal
	$(BIN)/python -m bench.ar_files_memory --mb 50 --bad-every 1000
	$(BIN)/python -m bench.web_pages

## The long reliability run (kill -9 x50 over 1,000 invoices, kill -9 in every phase, the fault mix, 4 daemons x
## 5,000 on PostgreSQL): documents created/received at the portal per scenario; exits 1 when a verdict fails.
reliability: $(STAMP)
	$(BIN)/python -m tests.reliability

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
