# SIM Desk. Every target makes its own .venv, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo run test test-slow test-fuzz lint screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Create a demo vault in the user data folder (if there is none) and open it.
demo: $(STAMP)
	$(BIN)/sim-desk demo --open

run: demo

## Lint, then every test except the long reliability runs.
test: $(STAMP)
	$(BIN)/ruff check sim_desk tests benchmarks
	$(BIN)/ruff format --check sim_desk tests benchmarks
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m "not slow" -n auto --dist loadfile --cov=sim_desk.records --cov-report=term:skip-covered

test-slow: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m slow

## Property tests (hypothesis) with random examples, 50 times as many as make test
## (SIM_DESK_FUZZ_SCALE=N to change); failures are kept in .hypothesis/ and tried first next time.
test-fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m "hypothesis or fuzz" -p no:cacheprovider

## Render each main screen of the demo vault offscreen to docs/screenshots/.
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m sim_desk.ui.screenshots docs/screenshots

lint: $(STAMP)
	$(BIN)/ruff check --fix sim_desk tests benchmarks
	$(BIN)/ruff format sim_desk tests benchmarks

clean:
	rm -rf $(VENV) .venv-installer build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
include mk/installer.mk
include benchmarks/bench.mk
