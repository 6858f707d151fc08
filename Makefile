# Every target sets up .venv itself; a second call is a fast no-op (stamp file).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/python -m pip
PIPQ    := $(PIP) install -q --disable-pip-version-check -c constraints.txt

.PHONY: venv sysdeps sysdeps-sandbox demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt examples/custom_fitness/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check torch==2.13.0
	$(PIPQ) -e '.[dev,dist,embed]'
	$(PIPQ) -e examples/custom_fitness
	touch $(STAMP)

# bubblewrap (code sandbox) + Chromium (web test): installed as root, else one line naming them
sysdeps:
	scripts/sysdeps.sh

sysdeps-sandbox:
	scripts/sysdeps.sh sandbox

demo: sysdeps-sandbox $(STAMP)
	$(BIN)/python -m evosearch.demo

lint: $(STAMP)
	$(BIN)/ruff check evosearch tests benchmarks examples
	$(BIN)/lint-imports

test: sysdeps $(STAMP)
	$(BIN)/ruff check evosearch tests benchmarks examples
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .import_linter_cache runs .cache
