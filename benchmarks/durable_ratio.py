"""What durable writes cost: creates and indexed updates with ``WAIT`` for one replica,
against the same writes without.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.durable_ratio [--instances 3000] [--rounds 3]

A private primary and its replica (``replicaof``; TCP on loopback, no persistence),
started and stopped by the script. One model (a unique ``email``, an ``EqualIndex`` on
``city``, a ``NumberRangeIndex`` on ``age``); each workload runs on a database without
durability and on one with ``durability={"replicas": 1, "timeout": 1}``. Printed:
microseconds per operation (best of ``--rounds``), the ratio durable / plain, and the
commands and round trips per operation (a durable write is its command and ``WAIT``,
in one round trip; a pipeline, its batch then ``WAIT``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import configure_django, format_table, machine_description, machine_line
from benchmarks.expiry_ratio import best


def build(primary: Any, durable: bool, name: str) -> tuple[Any, type]:
    from django_limpyd.database import RedisDatabase
    from django_limpyd.indexes import EqualIndex, NumberRangeIndex
    from django_limpyd.model import InstanceHashField, RedisModel

    extra = {"durability": {"replicas": 1, "timeout": 1}} if durable else {}
    database = RedisDatabase(**primary.connection_kwargs(), **extra)
    attrs = {
        "database": database,
        "namespace": "bench_durable",
        "__module__": __name__,
        "email": InstanceHashField(unique=True),
        "city": InstanceHashField(indexable=True, indexes=[EqualIndex]),
        "age": InstanceHashField(indexable=True, indexes=[NumberRangeIndex]),
    }
    return database, type(name, (RedisModel,), attrs)


def per_operation(database: Any, run: Callable[[], Any]) -> tuple[int, int]:
    from django_limpyd.test.commands import count_commands

    with count_commands(database) as recorder:
        run()
    return recorder.num_commands, recorder.num_round_trips


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    configure_django()
    from tests.tools.servers import replicated_servers

    n = options.instances
    with (
        tempfile.TemporaryDirectory(prefix="lpdd-") as directory,
        replicated_servers(directory) as (primary, _replica),
    ):
        print(machine_line(machine_description(primary)))
        plain_db, Plain = build(primary, False, "Plain")
        durable_db, Durable = build(primary, True, "Durable")
        for model in (Plain, Durable):
            model(email="warm-up", city="c", age=0)  # libraries loaded
        rows = []
        for label, make in [
            ("create", lambda model, i, r: model(email=f"{r}-{i}", city=f"c{i % 50}", age=i)),
            (
                "indexed update",
                lambda model, i, r: model.lazy_connect(str(i + 2)).age.hset(i),
            ),
        ]:
            timings, counts = {}, {}
            for database, model in ((plain_db, Plain), (durable_db, Durable)):
                seconds = []
                for round_number in range(options.rounds):
                    start = time.perf_counter()
                    for i in range(n):
                        make(model, i, f"{label}{round_number}")
                    seconds.append(time.perf_counter() - start)
                timings[model] = min(seconds) / n * 1e6
                counts[model] = per_operation(database, lambda m=model, f=make: f(m, 0, "count"))
            rows.append(
                [
                    label,
                    f"{timings[Plain]:.1f}",
                    f"{timings[Durable]:.1f}",
                    f"{timings[Durable] / timings[Plain]:.2f}",
                    "{}/{}".format(*counts[Plain]),
                    "{}/{}".format(*counts[Durable]),
                ]
            )
        batch = 100
        pipelined = {}
        for database, model in ((plain_db, Plain), (durable_db, Durable)):

            def run(database: Any = database, model: type = model) -> None:
                for start in range(0, n, batch):
                    with database.pipeline() as pipeline:
                        for i in range(start, start + batch):
                            model(email=f"p{time.monotonic_ns()}-{i}", city="c", age=i)
                        pipeline.execute()

            pipelined[model] = best(run, options.rounds) / n * 1e6
        rows.append(
            [
                f"create, pipelines of {batch}",
                f"{pipelined[Plain]:.1f}",
                f"{pipelined[Durable]:.1f}",
                f"{pipelined[Durable] / pipelined[Plain]:.2f}",
                f"1/1 per {batch}",
                f"2/2 per {batch}",
            ]
        )
        plain_db.close()
        durable_db.close()
    print(
        format_table(
            [
                "workload",
                "plain us/op",
                "durable us/op",
                "ratio",
                "plain cmds/rt",
                "durable cmds/rt",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
