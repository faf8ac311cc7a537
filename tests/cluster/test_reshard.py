"""Resharding a sharded model on a real Redis Cluster (3 masters, 3 replicas): every
step's calls stay in one slot each, reads stay exact half-way, unique values stay
unique, and the new layout spreads over every master."""

from __future__ import annotations

from typing import Any

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import UniquenessError
from django_limpyd.indexes import NumberRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.sharding import moves, unique
from django_limpyd.test.commands import count_commands
from tests.cluster.models import DATABASE


def _ticket(shards: int, resharding_from: int | None = None) -> type:
    attrs: dict[str, Any] = {
        "database": DATABASE,
        "namespace": "cluster",
        "__module__": __name__,
        "__qualname__": "Ticket",
        "shards": shards,
        "code": fields.InstanceHashField(unique=True),
        "kind": fields.InstanceHashField(indexable=True),
        "score": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
    }
    if resharding_from:
        attrs["resharding_from"] = resharding_from
    return type("Ticket", (RedisModel,), attrs)


def test_a_model_is_resharded_on_a_cluster(db, cluster):
    Before = _ticket(3)
    made = {Before(code=f"c{n}", kind="ab"[n % 2], score=str(n)).pk.get(): n for n in range(120)}
    During = _ticket(6, resharding_from=3)
    moves.close_old_layout(During)
    assert moves.move_reservations(During) == 120
    later = During(code="late", kind="a", score="500")
    assert type(later)._meta.layout == "new"
    made[later.pk.get()] = 500
    with pytest.raises(UniquenessError):
        During(code="c7")
    for old in During._meta.previous_shard_models[:2]:
        moves.move_batch(During, old, 25)

    def exact(model):
        assert len(model.collection()) == len(made)
        assert len(model.collection(kind="a")) == sum(1 for n in made.values() if n % 2 == 0)
        top = sorted(made, key=lambda pk: -made[pk])[:5]
        assert list(model.collection().sort(by="-score")[:5]) == top
        assert model.get(code="c33").score.get() == "33"

    exact(During)
    with count_commands(db) as counting:
        len(During.collection(kind="b"))
    # each old shard's moves and count in its own transaction, then the new shards
    assert counting.num_round_trips <= 3 + 3
    moves.run(During, batch=30)
    assert sum(moves.left_in_old_layout(During).values()) == 0
    After = _ticket(6)
    exact(After)
    masters = {
        db.connection.nodes_manager.get_node_from_slot(
            db.connection.keyslot(shard._meta.keys.pks)
        ).port
        for shard in After._meta.shard_models
    }
    assert len(masters) == 3
    assert all(consistency_check(shard) == [] for shard in After._meta.shard_models)
    assert unique.reservation_problems(After) == []
