"""A sharded model on a private Redis Cluster: spread, pages, counts, 4 writers.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.sharded_scale [--instances 1000000] [--shards 12]
                                                 [--seconds 10] [--json PATH]

It starts its own 3-master cluster on loopback (``PrivateRedisCluster``, no replicas),
then:

1. bulk-creates ``--instances`` instances of a model with ``shards = --shards``
   (``bulk_create`` of 1000 at a time) and prints the keys per master and their spread
   (the target: every master within 10% of the average);
2. a filtered sorted page (``kind='b'``, by ``-score``, ``[1000:1050]``) and a count
   (``len(collection(kind='b'))``), with the commands and round trips each took and
   their median time over 20 runs;
3. 4 writer processes for ``--seconds`` each, creating and updating indexed fields,
   once on the sharded model and once on the same model without shards (its own slot:
   one master), giving operations per second and, from ``INFO commandstats`` and
   ``INFO cpu`` of each master, the server CPU per operation on each node.

On this 2-core machine the writers and the 3 masters share 2 cores: expect little
speed-up. What the sharded model changes is where the server's work goes: spread over
every master instead of one; docs/scaling.rst ("Scaling out") extrapolates it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import configure_django, machine_description, machine_line, write_json

ROOT = str(Path(__file__).resolve().parents[1])
BATCH = 1000


def _models(database: Any, shards: int) -> tuple[type, type]:
    from django_limpyd import fields
    from django_limpyd.indexes import NumberRangeIndex
    from django_limpyd.model import RedisModel

    def fields_() -> dict[str, Any]:
        return {
            "kind": fields.InstanceHashField(indexable=True),
            "score": fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex]),
            "name": fields.InstanceHashField(),
        }

    common = {"database": database, "namespace": "bench", "__module__": __name__}
    sharded = type("Event", (RedisModel,), {**common, "shards": shards, **fields_()})
    plain = type("PlainEvent", (RedisModel,), {**common, **fields_()})
    return sharded, plain


def _writer(nodes: list, shards: int, sharded: bool, seconds: float, results: Any) -> None:
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    configure_django()
    from django_limpyd.database import RedisDatabase

    database = RedisDatabase(cluster_nodes=nodes)
    Event, Plain = _models(database, shards)
    model = Event if sharded else Plain
    done, mine = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if mine and done % 2:
            model.lazy_connect(mine[done % len(mine)]).score.hset(str(done % 997))
        else:
            mine.append(model(kind="abc"[done % 3], score=str(done % 1000)).pk.get())
        done += 1
    results.put(done)


def _master_stats(cluster: Any) -> dict[int, dict[str, float]]:
    stats = {}
    for node in cluster.masters():
        with cluster.node_client(node) as client:
            cpu = client.info("cpu")
            calls = client.info("commandstats")
            stats[node.port] = {
                "cpu": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
                "fcalls": sum(value["calls"] for name, value in calls.items() if "fcall" in name),
            }
    return stats


def _writers(cluster: Any, shards: int, sharded: bool, seconds: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    nodes = cluster.connection_kwargs()["cluster_nodes"]
    before = _master_stats(cluster)
    processes = [
        context.Process(target=_writer, args=(nodes, shards, sharded, seconds, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    operations = sum(results.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    after = _master_stats(cluster)
    per_node = {
        port: {
            "server_cpu_s": round(after[port]["cpu"] - before[port]["cpu"], 2),
            "function_calls": int(after[port]["fcalls"] - before[port]["fcalls"]),
        }
        for port in after
    }
    return {
        "ops_per_s": round(operations / seconds),
        "operations": operations,
        "per_node": per_node,
        "server_cpu_us_per_op": round(
            sum(n["server_cpu_s"] for n in per_node.values()) * 1e6 / max(operations, 1), 1
        ),
        "busiest_node_cpu_share": round(
            max(n["server_cpu_s"] for n in per_node.values())
            / max(sum(n["server_cpu_s"] for n in per_node.values()), 1e-9),
            2,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", default=None)
    options = parser.parse_args(argv)
    configure_django()
    from django_limpyd.database import RedisDatabase
    from django_limpyd.test.cluster import PrivateRedisCluster
    from django_limpyd.test.commands import count_commands
    from django_limpyd.test.isolation import short_tempdir

    print(machine_line(machine_description()))
    result: dict[str, Any] = {"instances": options.instances, "shards": options.shards}
    with PrivateRedisCluster(short_tempdir(), masters=3, replicas=0) as cluster:
        database = RedisDatabase(**cluster.connection_kwargs())
        Event, _Plain = _models(database, options.shards)
        started = time.perf_counter()
        for first in range(0, options.instances, BATCH):
            Event.bulk_create(
                {"kind": "abc"[n % 3], "score": str(n % 1000), "name": f"event {n}"}
                for n in range(first, min(first + BATCH, options.instances))
            )
        load = time.perf_counter() - started
        keys = {}
        for node in cluster.masters():
            with cluster.node_client(node) as client:
                keys[node.port] = client.dbsize()
        average = sum(keys.values()) / len(keys)
        spread = max(abs(count - average) / average for count in keys.values())
        result["load_seconds"] = round(load, 1)
        result["keys_per_master"] = keys
        result["largest_gap_from_average"] = round(spread, 4)
        print(
            f"loaded {options.instances:,} instances in {load:.1f} s; keys per master "
            f"{keys}; largest gap from the average {spread:.1%}"
        )

        for name, run in (
            ("page", lambda: list(Event.collection(kind="b").sort(by="-score")[1000:1050])),
            ("count", lambda: len(Event.collection(kind="b"))),
        ):
            run()
            with count_commands(database) as recorder:
                run()
            times = []
            for _ in range(20):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            result[name] = {
                "commands": recorder.num_commands,
                "round_trips": recorder.num_round_trips,
                "median_ms": round(statistics.median(times) * 1000, 2),
            }
            print(f"{name}: {result[name]}")
        database.close()

        for sharded in (True, False):
            label = "sharded" if sharded else "unsharded"
            result[f"writers_{label}"] = _writers(cluster, options.shards, sharded, options.seconds)
            print(f"4 writers, {label}: {result[f'writers_{label}']}")
    if options.json:
        write_json(options.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
