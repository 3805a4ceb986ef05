# Dalil: `make run` and `make test` are the whole set-up (see README).
VENV   := .venv
PY     := $(VENV)/bin/python
DALIL  := $(VENV)/bin/dalil
STAMP  := $(VENV)/.dalil-installed
LANGID ?= ../shared/data/langid

.PHONY: setup run test test-fast train bench lint eval-lang eval-nlu clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/setup-venv.sh
	@scripts/setup-venv.sh
	@touch $@

run: setup
	@$(DALIL) run

train: setup
	@$(DALIL) train

test: setup
	@$(DALIL) faq check
	@$(DALIL) train
	@$(PY) -m pytest

test-fast: setup
	@$(PY) -m pytest -m "not rasa"

# ruff (rules and format), mypy strict, and the import rules of docs/architecture.md
lint: setup
	@$(PY) -m ruff check bot actions nlu devtools tests
	@$(PY) -m ruff format --check bot actions nlu devtools tests
	@$(PY) -m mypy
	@$(PY) -m pytest -q tests/unit/test_architecture.py
	@$(DALIL) faq check

bench: setup
	@$(DALIL) train
	@$(DALIL) bench --write-docs

# NLU accuracy per way of writing on the held-out set (tests/nlu/) and the real-question set
# (tests/nlu/real/), wrong-topic rate, parse latency, training time; trains first if needed.
eval-nlu: setup
	@$(DALIL) train
	@$(DALIL) nlu-eval

eval-lang: setup
	@$(DALIL) lang-eval $(LANGID)

clean:
	rm -rf var results .pytest_cache .ruff_cache
