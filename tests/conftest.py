"""Session fixtures: one private redis-server per test session (per xdist worker).

Every test starts on an empty server; no test ever touches a server it did not
start.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
from django.test import override_settings

from django_limpyd.database import RedisDatabase
from django_limpyd.test.server import PrivateRedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[PrivateRedisServer]:
    """The session's private redis-server (unix socket, no persistence)."""
    # a short directory: unix socket paths are limited to ~107 bytes
    with tempfile.TemporaryDirectory(prefix="lpd-") as directory:
        server = PrivateRedisServer(directory).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session", autouse=True)
def _limpyd_databases(redis_server: PrivateRedisServer) -> Iterator[None]:
    """Point LIMPYD_DATABASES at the private server for the whole session."""
    databases = {
        "default": {"LOCATION": redis_server.url, "OPTIONS": {"SOCKET_TIMEOUT": 5}},
        "other": {"LOCATION": redis_server.url.replace("db=0", "db=1")},
    }
    with override_settings(LIMPYD_DATABASES=databases):
        yield


@pytest.fixture(autouse=True)
def _empty_server(redis_server: PrivateRedisServer) -> None:
    """Each test starts on an empty server."""
    client = redis_server.client()
    client.flushall()
    client.close()


@pytest.fixture
def database(redis_server: PrivateRedisServer) -> Iterator[RedisDatabase]:
    """A hand-built database on db 0 of the private server."""
    db = RedisDatabase(**redis_server.connection_kwargs())
    yield db
    db.close()
