# Two commands set everything up on a fresh machine:
#   make test   creates .venv, installs tfinpaint with its dev extras, lints, runs the suite
#   make demo   runs the main job (masks -> evaluation of the baseline -> table + picture)
#   make saved-models   writes saved_models/<default model>/1/ from the shipped weights
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTEST_ARGS ?=
DEMO_OUT ?= out/demo

.PHONY: venv test lint demo saved-models clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check tfinpaint tests scripts benchmarks

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/tfinpaint demo --out $(DEMO_OUT)

# saved_models/<default>/1/: the shipped default model (tfinpaint/pretrained/) as a TF Serving
# SavedModel, for `tfinpaint serve saved_models/` and tensorflow/serving (saved_models/README.md).
saved-models: $(STAMP)
	$(BIN)/tfinpaint export --out saved_models/ --version 1 --overwrite

clean:
	rm -rf $(VENV) out build *.egg-info
