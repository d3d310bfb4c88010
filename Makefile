# nextneed: two commands do all set-up on a fresh machine.
#   make demo   - install, fetch the default model, build the demo store, serve the chat on 127.0.0.1:7860
#   make test   - install, then ruff, mypy and the whole pytest suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STATE := .nextneed
DEMO_STORE := $(STATE)/demo-store
DEMO_FILES := $(STATE)/demo-data
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: demo test install model demo-store browser lint typecheck pytest clean-demo

demo: install model demo-store
	$(PY) app.py --store $(DEMO_STORE) --host 127.0.0.1 --port 7860

test: install model browser lint typecheck pytest

install: $(VENV)/.installed

# Re-installs when pyproject.toml changes. torch is pinned first so pip takes the local CPU
# wheel instead of pulling several GB of CUDA packages. The llamacpp extra builds llama.cpp from
# source (~6 min on 2 cores the first time; pip keeps the built wheel).
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,ui,llamacpp]'
	touch $@

model: install
	$(PY) -m bot.llm.model fetch

# The stamp names the store layout (knowledge/layout.py LAYOUT_VERSION): a demo store built by
# an older nextneed is rebuilt from scratch instead of being refused at start-up.
DEMO_READY := $(DEMO_STORE)/.ready-layout2
# The demo shop's timeline ends on the day it is built (knowledge.demo): after a week the stamp
# goes, so `make demo` rebuilds a shop whose "recent" purchases are recent again.
$(shell find $(DEMO_READY) -mtime +6 -delete 2>/dev/null)

demo-store: install $(DEMO_READY)

$(DEMO_READY):
	rm -rf $(DEMO_STORE)
	$(PY) -m knowledge demo --out $(DEMO_FILES) --ingest --store $(DEMO_STORE)
	touch $@

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

clean-demo:
	rm -rf $(DEMO_STORE) $(DEMO_FILES)
