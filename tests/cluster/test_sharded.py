"""A sharded model on a real Redis Cluster (3 masters, 3 replicas): its instances and
their index entries spread evenly over every master, pages and counts scattered to
every shard in one round trip per node, unique values held once across slots."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import UniquenessError
from django_limpyd.test.commands import count_commands
from tests.cluster.models import Event
from tests.reliability.helpers import summary

pytestmark = pytest.mark.slow

INSTANCES = 12_000


def test_a_sharded_model_spreads_over_every_master(db, cluster):
    started = time.perf_counter()
    Event.bulk_create(
        {"code": f"c{number}", "kind": "abc"[number % 3], "score": str(number % 1000)}
        for number in range(INSTANCES)
    )
    per_master = {}
    for node in cluster.masters():
        with cluster.node_client(node) as client:
            per_master[node.port] = client.dbsize()
    average = sum(per_master.values()) / len(per_master)
    spread = max(abs(count - average) / average for count in per_master.values())
    slots = Counter(
        db.connection.keyslot(shard._meta.keys.pks) for shard in Event._meta.shard_models
    )
    summary(
        "sharded keys per master",
        started,
        shards=Event._meta.shards,
        instances=INSTANCES,
        keys_per_master=per_master,
        largest_gap=f"{spread:.1%}",
    )
    assert len(slots) == 12
    assert spread <= 0.10
    assert len(Event.collection()) == INSTANCES

    page = Event.collection(kind="b").sort(by="-score")
    with count_commands(db) as paging:
        rows = list(page[10:20])
    assert paging.num_commands == 12  # one collection call per shard
    assert paging.num_round_trips <= 3  # one pipeline: one round trip per node
    expected = sorted(
        (n for n in range(INSTANCES) if n % 3 == 1), key=lambda n: (-(n % 1000), str(n + 1))
    )
    assert [int(Event(pk).score.get()) for pk in rows] == [n % 1000 for n in expected[10:20]]
    with count_commands(db) as counting:
        assert len(Event.collection(kind="b")) == INSTANCES // 3
    summary(
        "sharded page and count",
        started,
        page_commands=paging.num_commands,
        page_round_trips=paging.num_round_trips,
        count_commands=counting.num_commands,
        count_round_trips=counting.num_round_trips,
    )

    with pytest.raises(UniquenessError):
        Event(code="c17")
    Event(code="new")
    assert consistency_check(Event) == []
