# simgen: one command each to set up, run the example, test and benchmark.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= dev,eval,ray,farm
SETUP_GB := 8

.PHONY: setup render test test-all lint bench bench-scaling clean

## setup: create .venv (Python 3.11) and install simgen with its dev + evaluator + Ray + farm extras
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (bpy 5.0 needs Python 3.11)"; exit 1; }
	@free_gb=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	if [ "$$free_gb" -lt $(SETUP_GB) ]; then \
	  echo "warning: $$free_gb GB free in $$(pwd); the install needs about $(SETUP_GB) GB (torch + CUDA wheels, bpy)"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

## render: render the bundled example scene and write a contact sheet
render: setup
	$(BIN)/simgen render scenes/tabletop.yaml --out out/tabletop
	$(BIN)/simgen preview out/tabletop --out out/tabletop/preview.png

## test: lint + the default test suite (slow and GPU tests are deselected)
test: setup lint
	$(BIN)/pytest

## test-all: include the slow tests
test-all: setup
	$(BIN)/pytest -m "not gpu"

lint: setup
	$(BIN)/ruff check simgen tests bench assets
	$(BIN)/ruff format --check simgen tests bench assets

## bench: render benchmark (simgen vs bare bpy loop) -> bench/results/*.json
bench: setup
	$(BIN)/python bench/bench_render.py

## bench-scaling: images/s for 1 and 2 workers, locally and on local Ray -> bench/results/scaling.json
bench-scaling: setup
	$(BIN)/python bench/bench_scaling.py

clean:
	rm -rf out .pytest_cache .ruff_cache
