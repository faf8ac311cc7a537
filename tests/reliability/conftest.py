"""Fixtures of the reliability suite: worker processes, the models' database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from django_limpyd.test.server import PrivateRedisServer
from tests.reliability.models import DATABASE
from tests.reliability.workers import WorkerPool


@pytest.fixture(scope="session")
def _worker_pools() -> Iterator[list[WorkerPool]]:
    pools: list[WorkerPool] = []
    yield pools
    for pool in pools:
        pool.close()


@pytest.fixture
def workers(_worker_pools: list[WorkerPool]) -> WorkerPool:
    """The session's worker processes (new ones after a test left them broken)."""
    if len(_worker_pools) >= 2 and _worker_pools[-1].broken:
        pytest.fail("worker processes broke twice in this session; not starting more")
    if not _worker_pools or _worker_pools[-1].broken:
        if _worker_pools:
            _worker_pools[-1].close()
        _worker_pools.append(WorkerPool())
    return _worker_pools[-1]


@pytest.fixture
def session_kwargs(redis_server: PrivateRedisServer) -> Iterator[dict[str, Any]]:
    """Point the models' database at db 0 of the session's private server (emptied
    before each test); the connection arguments, for worker processes too."""
    kwargs = {**redis_server.connection_kwargs(), "socket_timeout": 10}
    DATABASE.connect(**kwargs)
    yield kwargs
    DATABASE.close()


@pytest.fixture
def raw(redis_server: PrivateRedisServer) -> Iterator[redis.Redis]:
    """An undecoded client of db 0 of the session's server (``DUMP`` gives bytes)."""
    client = redis.Redis(**redis_server.connection_kwargs())
    yield client
    client.close()
