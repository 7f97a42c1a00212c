# prakat: `make run` and `make test` work on a fresh clone (they set up .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test bench eval lint clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Builds the default model and the sample corpus index on first use (about 2-3 minutes
# on 2 cores), then starts the bot if TELEGRAM_BOT_TOKEN is set, else a console chat.
run: $(STAMP)
	$(BIN)/prakat model install
	$(BIN)/prakat corpus add corpus/sample
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then \
		exec $(BIN)/prakat bot; \
	else \
		echo "TELEGRAM_BOT_TOKEN is not set: starting the console chat (Ctrl-D quits)."; \
		exec $(BIN)/prakat chat; \
	fi

# -X faulthandler: a crash in native code, the interpreter's shutdown included, prints
# every thread's Python stack (one run of 2026-11-27 died by SIGSEGV after all passed).
test: $(STAMP)
	$(BIN)/python -X faulthandler -m pytest -q

# Speed, memory and quality benchmarks; JSON in benchmarks/results/ (docs/performance.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The retrieval-quality table of docs/quality.md, from ../shared/data (about 30 minutes).
eval: $(STAMP)
	$(BIN)/python benchmarks/eval_table.py

lint: $(STAMP)
	$(BIN)/ruff check bot retrieval corpus tests benchmarks
	$(BIN)/ruff format --check bot retrieval corpus tests benchmarks

clean-data:
	rm -rf data
