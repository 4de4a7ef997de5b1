# Two entry points: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
MODEL_DIR := model/artifacts

.PHONY: venv java model video demo test test-fast bench audit clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# Multi Model Server (AWS's model server, the local endpoint) has a Java front end.
# Debian's default-jre-headless where `java` is missing (needs root; otherwise install a JRE yourself).
java:
	@command -v java >/dev/null 2>&1 || { echo "java not found: installing default-jre-headless"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }

venv: $(STAMP) java

# Random weights here (no internet): see README "Model". Real weights:
#   $(PY) -m model export --source gluoncv --out $(MODEL_DIR)
$(MODEL_DIR)/manifest.json: | $(STAMP)
	$(PY) -m model export --source random --out $(MODEL_DIR) --if-missing

model: $(MODEL_DIR)/manifest.json

videos/bikes.mp4: | $(STAMP)
	$(PY) -m videos fetch bikes.mp4

video: videos/bikes.mp4

demo: venv model video
	$(PY) -m devstack demo videos/bikes.mp4

test: venv model video
	$(PY) -m pytest

test-fast: venv model video
	$(PY) -m pytest -m "not slow"

audit: venv
	# Needs PyPI's JSON API (or OSV): see docs/security.md.
	$(PY) -m pip_audit -l --progress-spinner off

bench: venv model
	$(PY) -m bench.inference
	$(PY) -m bench.decode_threads
	$(PY) -m bench.serving
	$(PY) -m bench.cost --out bench/results
	$(PY) -m bench.orchestration
	$(PY) -m bench.load

clean:
	rm -rf .devstack .build bench/.work
