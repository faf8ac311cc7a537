"""The fixtures of the Redis Cluster tests: a private cluster per test module (3
masters, 3 replicas, ``redis-server`` processes on loopback) and the hand-built
``tests.cluster.models.DATABASE`` pointed at it, emptied for each test."""

from __future__ import annotations

from typing import Any

import pytest

from django_limpyd.test.cluster import PrivateRedisCluster
from django_limpyd.test.isolation import short_tempdir
from tests.cluster.models import DATABASE


@pytest.fixture(scope="module")
def cluster() -> Any:
    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=1) as started:
        yield started


@pytest.fixture
def db(cluster: PrivateRedisCluster) -> Any:
    """``tests.cluster.models.DATABASE`` on the module's cluster, emptied."""
    client = cluster.client()
    client.flushall(target_nodes=client.PRIMARIES)
    client.close()
    DATABASE.connect(**cluster.connection_kwargs())
    yield DATABASE
    DATABASE.close()
