# gatewaysim: every target sets itself up. On a fresh machine with Python 3.11+,
# `make explore` and `make test` are all there is to do.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# An editable install records which top-level packages exist, so the stamp also depends on
# their __init__.py files: a package that gains one after installing is re-registered.
PACKAGE_INITS := $(wildcard simulator/__init__.py models/__init__.py \
                            properties/__init__.py gatewaysim/__init__.py)

.DEFAULT_GOAL := help
.PHONY: help test test-hunts notebooks lab explore bench lint typecheck clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(PACKAGE_INITS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,notebooks,real,dask,cli,fast]'
	@touch $(STAMP)

test: $(STAMP) ## lint, run every test but test-hunts (parallel, "ci" profile), the notebooks
	$(BIN)/ruff check .
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n auto --dist loadgroup -m "not hunt"
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n auto --nbmake notebooks/

test-hunts: $(STAMP) ## the bug-zoo searches that take minutes (CI runs them after `make test`)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n auto -m hunt

lab: $(STAMP) ## install JupyterLab into .venv (once) and open the notebooks
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet -e '.[lab]'
	$(BIN)/jupyter lab notebooks/

notebooks: $(STAMP) ## execute every notebook in notebooks/ top to bottom (nbmake)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest --nbmake notebooks/

explore: $(STAMP) ## explore the Lumenize model for 60 s; a failure file per violated invariant
	@# Exit status 1 means "findings": the expected outcome on the faithful model, not an error.
	$(BIN)/gatewaysim explore lumenize --budget 60s || [ $$? -eq 1 ]

bench: $(STAMP) ## run every benchmark script in benchmarks/, one after another
	@set -e; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; \
		$(BIN)/python "$$script"; \
	done

lint: $(STAMP) ## ruff check
	$(BIN)/ruff check .

typecheck: $(STAMP) ## mypy on the kernel
	$(BIN)/mypy simulator

clean: ## remove caches and build output (keeps .venv, findings and the Hypothesis database)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf
	rm -rf .pytest_cache .ruff_cache .mypy_cache build dist

distclean: clean ## clean, and remove the virtual environment too
	rm -rf $(VENV)
