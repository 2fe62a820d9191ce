# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench fuzz clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[host,train,csim,onnx,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eie demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

# The larger kernel fuzz (the test suite runs a bounded one): prints its counts.
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_kernel.py

clean:
	rm -rf $(VENV) build "$${EIE_CACHE_DIR:-$$HOME/.cache/eie-pynq}"
