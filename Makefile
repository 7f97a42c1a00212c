# prakat: `make run` and `make test` work on a fresh clone (they set up .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
# torch 2.13.0+cpu comes from a folder of wheels where the machine has one (this
# workplace's /opt/wheels), else from PyTorch's CPU index (TORCH_INDEX).
WHEELS      ?= /opt/wheels
TORCH_INDEX ?= $(if $(wildcard $(WHEELS)),,https://download.pytorch.org/whl/cpu)
PIP_SOURCES := $(if $(wildcard $(WHEELS)),--find-links $(WHEELS)) \
               $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test bench eval lint lock check-lock clean-data

# Exactly the versions of the lock (hashes checked), then prakat itself on top.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps $(PIP_SOURCES) -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	$(BIN)/python .ci/check_lock.py
	$(BIN)/python -m pip check --disable-pip-version-check
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
	$(BIN)/ruff check bot retrieval corpus tests benchmarks .ci
	$(BIN)/ruff format --check bot retrieval corpus tests benchmarks .ci

# The lock: every package pinned with its hashes, for Python 3.11 on x86-64 Linux.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
		$(if $(wildcard $(WHEELS)),--find-links $(WHEELS)) \
		$(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -o $(LOCK)

check-lock: $(STAMP)
	$(BIN)/python .ci/check_lock.py

clean-data:
	rm -rf data
