# `make demo` and `make test` are all a fresh clone needs: each sets up its own venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SDK_VENV ?= .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
SDK2_VENV ?= .venv-sdk2
SDK2_STAMP := $(SDK2_VENV)/.installed
DEMO_OUT ?= demo.mp4

.PHONY: install demo test test-floor interop-deps js-harness bench-compare clean

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

# The official Python SDK of today's protocol (control channel + LiveKit
# room, through LiveKit's own `livekit` client), likewise in a venv of its own.
$(SDK2_STAMP):
	$(PYTHON) -m venv $(SDK2_VENV)
	$(SDK2_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'decart[realtime]==0.2.4'
	touch $(SDK2_STAMP)

interop-deps: $(SDK_STAMP) $(SDK2_STAMP)

# Decart's official JavaScript SDK (@decartai/sdk, with LiveKit's browser
# client) bundled into a test page (tests/js: harness.js, harness.html) for
# tests/test_js_sdk.py. `npm ci` installs exactly package-lock.json; rebuilt
# only when the pins or the harness change.
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/dist/.built
$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json $(JS_DIR)/harness.js $(JS_DIR)/harness.html
	cd $(JS_DIR) && npm ci --no-audit --no-fund
	cd $(JS_DIR) && npm run --silent build
	touch $(JS_STAMP)

js-harness: $(JS_STAMP)

# The main job, offline: the shipped sample clip (a real face) through the
# local server (a background scene, face-anchored objects, then an art style
# with a crown and snow, re-prompted from stdin half-way), recorded to demo.mp4.
demo: $(STAMP)
	(sleep 6; echo "make it a watercolor painting with a crown and snow") | \
	  $(VENV)/bin/decart edit -i sample --loop -p "put me on a beach with sunglasses and a red cap" --no-show -o $(DEMO_OUT) --duration 12

# Our client and the official SDKs (Python: both generations; JS: in Chromium), same server.
# Today's protocol runs in a private network namespace (tools/in-netns, needs root).
bench-compare: $(STAMP) $(SDK_STAMP) $(SDK2_STAMP) $(JS_STAMP)
	$(VENV)/bin/decart bench --duration 10 --json bench-ours.json
	tools/in-netns $(VENV)/bin/decart bench --transport livekit --duration 10 --json bench-ours-livekit.json
	$(SDK_VENV)/bin/python tools/sdk_bench.py --server-python $(PY) --duration 10 --json bench-sdk.json
	$(SDK2_VENV)/bin/python tools/sdk2_bench.py --server-python $(PY) --duration 10 --json bench-sdk2.json
	$(PY) tools/js_sdk_bench.py --server-python $(PY) --runs 5 --json bench-js.json

test: $(STAMP) $(SDK_STAMP) $(SDK2_STAMP) $(JS_STAMP)
	$(PY) -m pytest

# The floor of what pyproject.toml allows for the libraries whose internals
# or newest API we use (aiortc: the rtc tuning patches it; av: recording and
# subtitles; websockets: the client's signaling; aiohttp: decart serve), in a venv of its own; the
# ceiling is what `make test` installs. CI runs both (.ci/run).
FLOOR_VENV ?= .venv-floor
AV_FLOOR ?= 17.1.0
FLOOR_PINS = 'aiortc==1.16.0' 'av==$(AV_FLOOR)' 'websockets==17.0' 'aiohttp==3.10.11'
FLOOR_TESTS := tests/test_rtc_tuning.py tests/test_server.py tests/test_server_http.py tests/test_server_limits.py tests/test_server_load.py tests/test_serve_network.py tests/test_watch.py tests/test_recorder.py tests/test_remux.py tests/test_session_record.py tests/test_edit_e2e.py tests/test_reconnect.py

test-floor:
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' $(FLOOR_PINS)
	$(FLOOR_VENV)/bin/python -m pip check
	$(FLOOR_VENV)/bin/python -m pytest -q $(FLOOR_TESTS)

clean:
	rm -rf $(VENV) $(SDK_VENV) $(SDK2_VENV) $(FLOOR_VENV) $(DEMO_OUT) .pytest_cache $(JS_DIR)/node_modules $(JS_DIR)/dist
