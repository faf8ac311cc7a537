"""The model of the resharding tests, in each of its declarations (before, during,
after a reshard), on a hand-built database that the tests (and their spawned processes)
point at the session's server."""

from __future__ import annotations

from typing import Any

from django_limpyd import fields
from django_limpyd.database import RedisDatabase
from django_limpyd.indexes import NumberRangeIndex
from django_limpyd.model import RedisModel

#: never contacted at this address: the tests connect it to their server
DATABASE = RedisDatabase(host="127.0.0.1", port=1)


def order_model(shards: int | None, resharding_from: int | None = None, **extra: Any) -> type:
    """``Order`` with ``shards`` (and ``resharding_from``): every call declares the same
    model again (its keys are the same), as a deploy of new code would."""
    attrs: dict[str, Any] = {
        "database": DATABASE,
        "namespace": "reshard",
        "__module__": __name__,
        "__qualname__": "Order",
        "code": fields.InstanceHashField(unique=True),
        "kind": fields.InstanceHashField(indexable=True),
        "score": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
        "hits": fields.StringField(),
        "tags": fields.SetField(indexable=True),
        **extra,
    }
    if shards is not None:
        attrs["shards"] = shards
    if resharding_from is not None:
        attrs["resharding_from"] = resharding_from
    return type("Order", (RedisModel,), attrs)


def plain_model(shards: int | None, resharding_from: int | None = None) -> type:
    """``Item``: no unique field, a string pk (crc32 shards), for resharding from 1."""
    attrs: dict[str, Any] = {
        "database": DATABASE,
        "namespace": "reshard",
        "__module__": __name__,
        "__qualname__": "Item",
        "name": fields.PKField(),
        "kind": fields.InstanceHashField(indexable=True),
        "rank": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
    }
    if shards is not None:
        attrs["shards"] = shards
    if resharding_from is not None:
        attrs["resharding_from"] = resharding_from
    return type("Item", (RedisModel,), attrs)


def fill_orders(model: type, count: int) -> dict[str, int]:
    """``count`` instances of ``model`` (an ``order_model``); their numbers by pk (the
    number gives the code, kind, score and tag of each)."""
    made = {}
    for number in range(count):
        instance = model(
            code=f"c{number}", kind="ab"[number % 2], score=str(number), tags={f"t{number % 3}"}
        )
        made[instance.pk.get()] = number
    return made


def connection_kwargs(server: Any) -> dict[str, Any]:
    """How to reach the test session's server (picklable, for spawned processes)."""
    return dict(server.connection_kwargs())
