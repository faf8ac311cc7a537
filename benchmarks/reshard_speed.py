"""Resharding a sharded model on a private Redis Cluster: how fast instances move, and
what reads cost meanwhile.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.reshard_speed [--instances 100000] [--before 6]
                                                 [--after 12] [--batch 500]

It starts its own 3-master cluster on loopback (``PrivateRedisCluster``, no replicas),
bulk-creates ``--instances`` instances (a unique field, two indexes) with
``shards = --before``, declares the model ``shards = --after`` with
``resharding_from = --before`` and runs ``limpyd_reshard``'s work
(:func:`django_limpyd.sharding.moves.run`), printing instances moved per second, then
the keys per master of the new layout. Halfway, a filtered count and a sorted page are
timed (median of 20) with their commands and round trips.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from benchmarks.common import configure_django, machine_description, machine_line

BATCH = 1000


def _model(database: Any, shards: int, resharding_from: int | None = None) -> type:
    from django_limpyd import fields
    from django_limpyd.indexes import NumberRangeIndex
    from django_limpyd.model import RedisModel

    attrs: dict[str, Any] = {
        "database": database,
        "namespace": "bench_reshard",
        "__module__": __name__,
        "__qualname__": "Order",
        "shards": shards,
        "code": fields.InstanceHashField(unique=True),
        "kind": fields.InstanceHashField(indexable=True),
        "score": fields.StringField(indexable=True, indexes=[NumberRangeIndex]),
    }
    if resharding_from:
        attrs["resharding_from"] = resharding_from
    return type("Order", (RedisModel,), attrs)


def _timed(database: Any, run: Any) -> dict[str, Any]:
    from django_limpyd.test.commands import count_commands

    run()
    with count_commands(database) as recorder:
        run()
    times = []
    for _ in range(20):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {
        "commands": recorder.num_commands,
        "round_trips": recorder.num_round_trips,
        "median_ms": round(statistics.median(times) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--before", type=int, default=6)
    parser.add_argument("--after", type=int, default=12)
    parser.add_argument("--batch", type=int, default=500)
    options = parser.parse_args(argv)
    configure_django()
    from django_limpyd.database import RedisDatabase
    from django_limpyd.sharding import moves
    from django_limpyd.test.cluster import PrivateRedisCluster
    from django_limpyd.test.isolation import short_tempdir

    print(machine_line(machine_description()))
    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=0) as cluster:
        database = RedisDatabase(**cluster.connection_kwargs())
        Before = _model(database, options.before)
        started = time.perf_counter()
        for first in range(0, options.instances, BATCH):
            Before.bulk_create(
                {"code": f"c{n}", "kind": "abc"[n % 3], "score": str(n % 1000)}
                for n in range(first, min(first + BATCH, options.instances))
            )
        print(f"loaded {options.instances:,} instances in {time.perf_counter() - started:.1f} s")
        During = _model(database, options.after, options.before)
        before = _timed(database, lambda: len(During.collection(kind="b")))
        print(f"before the move, count: {before}")
        half = options.instances // 2
        moved = 0
        started = time.perf_counter()
        moves.close_old_layout(During)
        reservations = moves.move_reservations(During)
        reserved_in = time.perf_counter() - started
        halfway: dict[str, Any] = {}
        while True:
            shards = [shard for shard, n in moves.left_in_old_layout(During).items() if n]
            if not shards:
                break
            for shard in shards:
                moved += moves.move_batch(During, shard, options.batch)
            if not halfway and moved >= half:
                pause = time.perf_counter()
                halfway["count"] = _timed(database, lambda: len(During.collection(kind="b")))
                halfway["page"] = _timed(
                    database,
                    lambda: list(During.collection(kind="b").sort(by="-score")[1000:1050]),
                )
                started += time.perf_counter() - pause
        took = time.perf_counter() - started
        print(
            f"moved {moved:,} instances from {options.before} to {options.after} shards in "
            f"{took:.1f} s ({moved / took:,.0f} instances/s, batches of {options.batch}; "
            f"{reservations:,} reservations moved in {reserved_in:.1f} s)"
        )
        print(f"halfway: {halfway}")
        After = _model(database, options.after)
        print(f"after, count: {_timed(database, lambda: len(After.collection(kind='b')))}")
        keys = {}
        for node in cluster.masters():
            with cluster.node_client(node) as client:
                keys[node.port] = client.dbsize()
        print(f"keys per master after: {keys}")
        database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
