# Benchmarks (issue 8): stress vault, budgets, encrypted/plain ratios. Included by the Makefile
# (include benchmarks/bench.mk) after STAMP and BIN are set; each target makes its own .venv.
.PHONY: bench bench-smoke

## The stress vault (2,000 people, 5 years; built once into benchmarks/.data/, a few minutes) and
## every figure against its budget: writes benchmarks/results.json and benchmarks/results.md.
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/run.py

## The same at 1/20 scale for CI, in under a minute: fails only if a figure is not produced,
## never on a timing. Results go to benchmarks/.data/results-smoke.{json,md}.
bench-smoke: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/run.py --smoke
