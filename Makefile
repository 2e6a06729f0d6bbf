# `make demo` and `make test` are all a fresh clone needs: each sets up its own venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SDK_VENV ?= .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
DEMO_OUT ?= demo.mp4

.PHONY: install demo test interop-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The official Python SDK's legacy realtime client, for the interop tests.
# It pins its own opencv-python, so it lives in a venv of its own.
$(SDK_STAMP):
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'decart[realtime]==0.0.20'
	touch $(SDK_STAMP)

interop-deps: $(SDK_STAMP)

# The main job, offline: the built-in test source through the local server,
# edited, re-prompted from stdin half-way, recorded to demo.mp4.
demo: $(STAMP)
	(sleep 5; echo "invert the colors") | $(VENV)/bin/decart edit -i test -p "tint it blue" --no-show -o $(DEMO_OUT) --duration 10

test: $(STAMP) $(SDK_STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(SDK_VENV) $(DEMO_OUT) .pytest_cache
