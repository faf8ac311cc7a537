"""The suite's fixtures, on top of django_limpyd's own pytest plugin (dogfood).

The plugin (``limpyd_autouse = true`` in pyproject.toml) gives each session,
that is each xdist worker, a private redis-server, points the ``default`` and
``other`` aliases at its db 0 and db 1, and gives every test those databases
empty and unblocked. No test ever touches a server it did not start. The
fixtures below keep the names the suite uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_limpyd.database import RedisDatabase


@pytest.fixture(scope="session", autouse=True)
def _limpyd_databases() -> Iterator[None]:
    """The suite's aliases; their locations are never contacted (the plugin points
    them at its private server). Autouse: set before the plugin reads them."""
    databases = {
        "default": {"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": {"SOCKET_TIMEOUT": 5}},
        "other": {"LOCATION": "redis://127.0.0.1:1/1"},
    }
    with override_settings(LIMPYD_DATABASES=databases):
        yield


@pytest.fixture(scope="session")
def redis_server(limpyd_server: Any) -> Any:
    """The session's private redis-server (the plugin's ``limpyd_server``)."""
    return limpyd_server


@pytest.fixture(autouse=True)
def _empty_server(redis_server: Any) -> None:
    """Each test starts on an empty server: the plugin empties the aliases' databases,
    this also empties the other databases that some tests use."""
    client = redis_server.client()
    client.flushall()
    client.close()


@pytest.fixture
def database(redis_server: Any) -> Iterator[RedisDatabase]:
    """A hand-built database on db 0 of the private server (the ``default`` alias's)."""
    db = RedisDatabase(**redis_server.connection_kwargs())
    yield db
    db.close()
