"""The sharded model of the unique-across-shards tests, on a hand-built database that
the tests (and their spawned processes) point at the session's server."""

from __future__ import annotations

from typing import Any

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.model import RedisModel

#: never contacted at this address: the tests connect it to their server
DATABASE = RedisDatabase(host="127.0.0.1", port=1)


class Account(RedisModel):
    database = DATABASE
    namespace = "sharded_unique"
    shards = 4
    email = fields.InstanceHashField(unique=True)
    name = fields.InstanceHashField(indexable=True)


def connection_kwargs(server: Any) -> dict[str, Any]:
    """How to reach the test session's server (picklable, for spawned processes)."""
    return dict(server.connection_kwargs())
