# Two commands do all set-up: `make run` and `make test`. Both create .venv from this repo's files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.colorbench-installed

.PHONY: install run test browser lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/colorbench run --models all --dataset toon --out results/toon

# pytest-xdist: one worker per core, each test file on one worker (its module fixtures built once).
test: $(STAMP) browser
	$(PY) -m pytest -q -p no:cacheprovider -n auto --dist loadfile

# The study page's and report.html's end-to-end tests drive a real headless chromium: installed here when
# missing (as root).
browser:
	@sh tests/ensure_browser.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check colorbench guidingpainter baselines protocols reports tests benchmarks

clean:
	rm -rf $(VENV) results
