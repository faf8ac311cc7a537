"""Models of the Redis Cluster tests, on a hand-built cluster database that each test
points at its own private cluster (``DATABASE.connect(cluster_nodes=...)``)."""

from __future__ import annotations

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.indexes import EqualIndex, NumberRangeIndex
from django_limpyd.model import RedisModel

#: never contacted at this address: the tests connect it to their cluster
DATABASE = RedisDatabase(cluster_nodes=[("127.0.0.1", 1)])


class Account(RedisModel):
    """Written by the failover and reshard workers: a unique field, equality and range
    indexes, a set."""

    database = DATABASE
    namespace = "cluster"
    name = fields.InstanceHashField(indexable=True, unique=True)
    city = fields.InstanceHashField(indexable=True, indexes=[EqualIndex])
    score = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
    tags = fields.SetField(indexable=True)


class Event(RedisModel):
    """A sharded model (12 shards, spread over the masters) with a unique field."""

    database = DATABASE
    namespace = "cluster"
    shards = 12
    code = fields.InstanceHashField(unique=True)
    kind = fields.InstanceHashField(indexable=True)
    score = fields.StringField(indexable=True, indexes=[NumberRangeIndex])
