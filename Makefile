# Everything installs from nothing into .venv with pinned versions
# (requirements/constraints*.txt); the only prerequisites are python3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# livekit-plugins-openai 1.5.6: the last release with the original bug (issue 5530).
VENV15 ?= .venv-lk15
STAMP15 := $(VENV15)/.installed
# The docs toolchain (requirements/docs.txt) lives in a venv of its own.
VENVDOCS ?= .venv-docs
STAMPDOCS := $(VENVDOCS)/.installed
LINTED := src tests bench examples docs tools
# pytest-xdist workers for the test targets (auto: one per core).
PYTEST_WORKERS ?= auto

# One pinned virtual environment per further framework (requirements/constraints-<name>.txt),
# each with its own CI stage.
FRAMEWORKS := pipecat agents xai

.PHONY: test demo bench lint typecheck pytest test-lk15 $(FRAMEWORKS:%=test-%) soak docs package-check clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile \
		-c requirements/constraints.txt -e '.[dev]'
	touch $@

$(STAMP15): pyproject.toml requirements/constraints-lk15.txt
	$(PYTHON) -m venv $(VENV15)
	$(VENV15)/bin/pip install --quiet --disable-pip-version-check --no-compile \
		-c requirements/constraints-lk15.txt -e '.[test,livekit]' httpx
	touch $@

$(STAMPDOCS): pyproject.toml requirements/docs.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENVDOCS)
	$(VENVDOCS)/bin/pip install --quiet --disable-pip-version-check --no-compile \
		-c requirements/constraints.txt -r requirements/docs.txt -e '.[livekit,testing]'
	touch $@

.PRECIOUS: .venv-%/.installed
.venv-%/.installed: pyproject.toml requirements/constraints-%.txt
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check --no-compile \
		-c requirements/constraints-$*.txt -e '.[test,$*]'
	touch $@

## make test: lint, type-check and the whole test suite (newest livekit plugin)
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

## make test-lk15: the livekit tests again on livekit-plugins-openai 1.5.6
test-lk15: $(STAMP15)
	$(VENV15)/bin/pytest -n $(PYTEST_WORKERS) -m livekit

## make test-pipecat / test-agents / test-xai: that framework's driver tests in its own
## pinned environment (.venv-<name>, pytest -m <name>)
$(FRAMEWORKS:%=test-%): test-%: .venv-%/.installed
	.venv-$*/bin/pytest -n $(PYTEST_WORKERS) -m $*

## make demo: the main job. Each further framework's drivers run in that framework's
## own environment (optstate check --all --json); the demo merges their rows into its matrix.
DEMO_DIR := .demo
DEMO_EXAMPLES ?= 60
demo: $(STAMP) $(FRAMEWORKS:%=.venv-%/.installed)
	@mkdir -p $(DEMO_DIR)
	@for fw in $(FRAMEWORKS); do \
		echo "checking the $$fw drivers in .venv-$$fw (log: $(DEMO_DIR)/$$fw.log)"; \
		.venv-$$fw/bin/python -m optstate check --all --extra $$fw --examples $(DEMO_EXAMPLES) \
			--json $(DEMO_DIR)/$$fw.json > $(DEMO_DIR)/$$fw.log 2>&1; \
		rc=$$?; [ $$rc -le 1 ] || { cat $(DEMO_DIR)/$$fw.log; exit $$rc; }; \
	done
	$(BIN)/python -m optstate demo --examples $(DEMO_EXAMPLES) --also $(FRAMEWORKS:%=$(DEMO_DIR)/%.json)

## make bench: run bench/ and write bench/RESULTS.md. The harness benchmark first runs in
## .venv-lk15 and each further framework's environment; python -m bench merges their reports.
BENCH_DIR := .bench
bench: $(STAMP) $(STAMP15) $(FRAMEWORKS:%=.venv-%/.installed)
	@mkdir -p $(BENCH_DIR)
	@for env in lk15 $(FRAMEWORKS); do \
		py=.venv-$$env/bin/python; [ $$env != lk15 ] || py=$(VENV15)/bin/python; \
		echo "bench_harness in $${py%/bin/python} (log: $(BENCH_DIR)/$$env.log)"; \
		$$py -m bench.bench_harness --extra $$env --json $(BENCH_DIR)/$$env.json \
			> $(BENCH_DIR)/$$env.log 2>&1 || { cat $(BENCH_DIR)/$$env.log; exit 1; }; \
	done
	$(BIN)/python -m bench

## make soak: thousands of random writes over several sessions with random drops and
## rejections against the loopback server (bounded: SOAK_SECONDS, default 60)
SOAK_SECONDS ?= 60
soak: $(STAMP)
	$(BIN)/python -m tools.soak --seconds $(SOAK_SECONDS)

## make docs: build the documentation site into docs/_build/html (offline, warnings are errors)
docs: $(STAMPDOCS)
	$(VENVDOCS)/bin/sphinx-build -E -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

## make package-check: build the sdist, then the wheel from it (no setuptools warning
## allowed), install the wheel with each extra into a fresh venv and use it there
PKG_TMP ?= $(or $(TMPDIR),/tmp)/optstate-package-check
PKG_PIP = pip install --quiet --disable-pip-version-check --no-compile -c requirements/constraints.txt
package-check:
	rm -rf $(PKG_TMP) && mkdir -p $(PKG_TMP)
	$(PYTHON) -m venv $(PKG_TMP)/build
	$(PKG_TMP)/build/bin/pip install --quiet --disable-pip-version-check -r requirements/package.txt
	$(PKG_TMP)/build/bin/python -m build --outdir $(PKG_TMP)/dist . > $(PKG_TMP)/build.log 2>&1 \
		|| { cat $(PKG_TMP)/build.log; exit 1; }
	@# (byte-compiling is disabled: only a note, when PYTHONDONTWRITEBYTECODE is set)
	@! grep -E "warning:|Warning:" $(PKG_TMP)/build.log | grep -v "byte-compiling is disabled" \
		|| { echo "package-check: the build warns"; exit 1; }
	@for f in LICENSE CHANGELOG.md README.md examples/realtime_client.py examples/toy_plugin.py; do \
		tar -tzf $(PKG_TMP)/dist/optstate-*.tar.gz | grep -q "/$$f$$" || { echo "sdist lacks $$f"; exit 1; }; done
	@unzip -l $(PKG_TMP)/dist/optstate-*.whl | grep -q 'licenses/LICENSE' || { echo "wheel lacks LICENSE"; exit 1; }
	@# PYTHONPATH unset: the venvs must use the installed wheel, never a checkout
	@set -e; unset PYTHONPATH; wheel=$$(ls $(PKG_TMP)/dist/optstate-*.whl); \
	for extra in none server testing livekit; do \
		case $$extra in \
			none) spec=$$wheel; mods="optstate optstate.openai";; \
			server) spec="$$wheel[server]"; mods="optstate optstate.openai optstate.server";; \
			testing) spec="$$wheel[testing]"; mods="optstate optstate.openai optstate.server optstate.strategies optstate.testing";; \
			livekit) spec="$$wheel[livekit]"; mods="optstate optstate.openai optstate.server optstate.livekit";; \
		esac; \
		echo "package-check: [$$extra] imports $$mods"; \
		$(PYTHON) -m venv $(PKG_TMP)/$$extra; \
		$(PKG_TMP)/$$extra/bin/$(PKG_PIP) "$$spec"; \
		(cd $(PKG_TMP) && for m in $$mods; do $(PKG_TMP)/$$extra/bin/python -c "import $$m"; done; \
		 $(PKG_TMP)/$$extra/bin/python -c "import optstate, sys; assert '$(PKG_TMP)/' in optstate.__file__, optstate.__file__"; \
		 $(PKG_TMP)/$$extra/bin/optstate --help > /dev/null; \
		 $(PKG_TMP)/$$extra/bin/optstate check --help > /dev/null); \
	done
	rm -rf $(PKG_TMP)
	@echo "package-check: ok"

clean:
	rm -rf $(VENV) $(VENV15) $(VENVDOCS) $(FRAMEWORKS:%=.venv-%) $(DEMO_DIR) $(BENCH_DIR) docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis
