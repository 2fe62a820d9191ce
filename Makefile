# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The real pynq package pins numpy<2 and (through pynqutils) setuptools<=80, which the
# host tools' numpy 2 and torch do not share: the board extra gets a venv of its own,
# where tests/board/test_real_pynq.py drives the driver through pynq's own classes.
PYNQ_VENV ?= .venv-pynq
PYNQ_STAMP := $(PYNQ_VENV)/.installed

.PHONY: demo test test-pynq venvs bench fuzz notebooks clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[host,train,csim,onnx,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eie demo

test: venvs
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests
	$(MAKE) --no-print-directory test-pynq

# Both venvs at once: each install keeps about one core busy (on a fresh machine this
# takes about a minute off `make test`).
venvs:
	$(MAKE) --no-print-directory -j2 $(STAMP) $(PYNQ_STAMP)

# jinja2 renders the kernel for the C-simulation that backs the mock pynq Device; the
# ap_int headers come from the host venv's hls4ml (EIE_AP_TYPES), so hls4ml is not installed twice.
$(PYNQ_STAMP): pyproject.toml
	$(PY) -m venv $(PYNQ_VENV)
	$(PYNQ_VENV)/bin/pip install --quiet -e '.[board]' 'jinja2>=3.0' 'pytest>=7'
	touch $(PYNQ_STAMP)

test-pynq: $(STAMP) $(PYNQ_STAMP)
	EIE_REQUIRE_PYNQ=1 EIE_AP_TYPES="$$($(BIN)/python -c 'from eie.kernel.csim import ap_types_dir; print(ap_types_dir())')" \
		$(PYNQ_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/board/test_real_pynq.py

bench: $(STAMP)
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

# The notebooks executed headless, their outputs (plots) kept in docs/notebooks/ for reading.
notebooks: $(STAMP)
	$(BIN)/python bench/run_notebooks.py

# The larger kernel fuzz (the test suite runs a bounded one): prints its counts.
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_kernel.py

clean:
	rm -rf $(VENV) $(PYNQ_VENV) build "$${EIE_CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/eie-pynq}"
