# Everything installs from nothing into .venv with pinned versions
# (requirements/constraints*.txt); the only prerequisites are python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# livekit-plugins-openai 1.5.6: the last release with the original bug (issue 5530).
VENV15 ?= .venv-lk15
STAMP15 := $(VENV15)/.installed
# One pinned virtual environment per further framework (requirements/constraints-<name>.txt):
# pipecat-ai, openai-agents and livekit-plugins-xai do not share a resolver with the above.
FRAMEWORKS := pipecat agents xai

.PHONY: test demo bench lint typecheck pytest test-lk15 $(FRAMEWORKS:%=test-%) soak clean

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

.PRECIOUS: .venv-%/.installed
.venv-%/.installed: pyproject.toml requirements/constraints-%.txt
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check \
		-c requirements/constraints-$*.txt -e '.[test,$*]'
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

## make test-pipecat / test-agents / test-xai: that framework's driver tests in its own
## pinned environment (.venv-<name>, pytest -m <name>)
$(FRAMEWORKS:%=test-%): test-%: .venv-%/.installed
	.venv-$*/bin/pytest -m $*

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
	rm -rf $(VENV) $(VENV15) $(FRAMEWORKS:%=.venv-%) .pytest_cache .mypy_cache .ruff_cache .hypothesis
