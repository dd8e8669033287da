# clipwsss: `make demo` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export PYTHONUNBUFFERED := 1

.PHONY: setup demo demo-photos test lint bench clean

# torch/torchvision are pinned to the CPU-usable builds this project is tested with.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,notebooks]'
	touch $@

setup: $(VENV)/.installed

# Until the offline toy world ships, the demo is the photo demo (needs CLIP weights).
demo: demo-photos

demo-photos: setup
	$(PY) scripts/demo_photos.py --out results/demo $(if $(PRETRAINED),--pretrained $(PRETRAINED),)

test: setup
	$(PY) -m pytest -q tests

lint: setup
	$(PY) -m ruff check lib tests scripts benchmarks

bench: setup
	$(PY) benchmarks/bench_cams.py

clean:
	rm -rf $(VENV) .pytest_cache
