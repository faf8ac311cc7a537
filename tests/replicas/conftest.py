"""A primary and its read-only replica for each test, and a database using both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_limpyd.database import RedisDatabase
from django_limpyd.fields import (
    HashField,
    InstanceHashField,
    ListField,
    SetField,
    SortedSetField,
    StringField,
)
from django_limpyd.model import RedisModel
from tests.tools.servers import replicated_servers

#: pointed at the primary, with its replica, by the ``servers`` fixture
DATABASE = RedisDatabase()


class Person(RedisModel):
    database = DATABASE
    namespace = "replicas"
    name = InstanceHashField(indexable=True)
    city = StringField()
    tags = SetField()
    scores = SortedSetField()
    visits = ListField()
    extra = HashField()


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """``(primary, replica)``, in sync; :data:`DATABASE` writes to the primary and
    reads from the replica."""
    with replicated_servers(tmp_path_factory.mktemp("rep"), timeout=10) as (primary, replica):
        DATABASE.connect(
            **primary.connection_kwargs(),
            socket_timeout=5,
            replicas=[replica.connection_kwargs()],
        )
        try:
            yield primary, replica
        finally:
            DATABASE.close()
