# Everything installs from nothing into .venv with pinned versions
# (requirements/constraints*.txt); the only prerequisites are python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# livekit-plugins-openai 1.5.6: the last release with the original bug (issue 5530).
VENV15 ?= .venv-lk15
STAMP15 := $(VENV15)/.installed

.PHONY: test demo bench lint typecheck pytest test-lk15 soak clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check \
		-c requirements/constraints.txt -e '.[dev]'
	touch $@

$(STAMP15): pyproject.toml requirements/constraints-lk15.txt
	$(PYTHON) -m venv $(VENV15)
	$(VENV15)/bin/pip install --quiet --disable-pip-version-check \
		-c requirements/constraints-lk15.txt -e '.[test,livekit]' httpx
	touch $@

## make test: lint, type-check and the whole test suite (newest livekit plugin)
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

## make test-lk15: the livekit tests again on livekit-plugins-openai 1.5.6
test-lk15: $(STAMP15)
	$(VENV15)/bin/pytest -m livekit

## make demo: the main job
demo: $(STAMP)
	$(BIN)/python -m optstate demo

## make bench: run bench/ and write bench/RESULTS.md
bench: $(STAMP)
	$(BIN)/python -m bench

## make soak: thousands of random writes over several sessions with random drops and
## rejections against the loopback server (bounded: SOAK_SECONDS, default 60)
SOAK_SECONDS ?= 60
soak: $(STAMP)
	$(BIN)/python -m tools.soak --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) $(VENV15) .pytest_cache .mypy_cache .ruff_cache .hypothesis
