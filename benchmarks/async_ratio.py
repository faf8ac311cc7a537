"""The async API against the sync one: W1, W2 and W5 of the suite, as ratios.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.async_ratio [--instances 3000] [--queries 800]
                                               [--concurrency 50] [--rounds 3]

On a private ``redis-server`` (unix socket, started and stopped by the script), with
the suite's ``Person`` model (:mod:`benchmarks.person`), each workload runs three ways
on the same data and operations:

* ``sync``: one by one, the sync API (``Person(**values)``, ``collection(...)``,
  ``lazy_connect(pk).city.hset(v)``);
* ``async``: one by one in one task, the async twins (``await Person.acreate(...)``,
  ``await collection.alist()`` / ``acount()``, ``await ...city.ahset(v)``);
* ``async xC``: the same operations spread over ``--concurrency`` tasks of one loop.

W1 creates N instances, W2 runs ``--queries`` filters (equality, ``__in``, range,
``startswith``) each listed and counted, W5 updates an indexed field (unique
``email``, ``city``, ``age``) of every instance. Printed: operations per second of
each way (best of ``--rounds``), the ratio of the async time per operation to the sync
one (``async/sync``, above 1 is slower) and of the concurrent throughput to the sync
one, and the commands per operation of each way (the same, by design).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import person
from benchmarks.common import format_table, machine_description, machine_line, private_server


def _sync_time(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _async_time(run: Callable[[], Any]) -> float:
    async def main() -> float:
        start = time.perf_counter()
        await run()
        return time.perf_counter() - start

    return asyncio.run(main())


async def _spread(items: Sequence[Any], one: Callable[[Any], Any], concurrency: int) -> None:
    async def worker(part: Sequence[Any]) -> None:
        for item in part:
            await one(item)

    await asyncio.gather(*(worker(items[k::concurrency]) for k in range(concurrency)))


def _commands(database: Any, run: Callable[[], Any], is_async: bool) -> int:
    from django_limpyd.test.commands import count_commands

    if not is_async:
        with count_commands(database) as recorder:
            run()
        return recorder.num_commands

    async def main() -> int:
        with count_commands(database) as recorder:
            await run()
        return recorder.num_commands

    return asyncio.run(main())


class Workload:
    """One workload: its operations, run three ways."""

    def __init__(
        self,
        name: str,
        items: list[Any],
        sync_one: Callable[[Any], Any],
        async_one: Callable[[Any], Any],
        reset: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.items = name, items
        self.sync_one, self.async_one, self.reset = sync_one, async_one, reset

    def measure(self, database: Any, rounds: int, concurrency: int) -> list[Any]:
        items = self.items
        times: dict[str, float] = {}

        async def sequential() -> None:
            for item in items:
                await self.async_one(item)

        ways: dict[str, tuple[Callable[[], Any], bool]] = {
            "sync": (lambda: [self.sync_one(item) for item in items], False),
            "async": (sequential, True),
            "concurrent": (lambda: _spread(items, self.async_one, concurrency), True),
        }
        for _round in range(rounds):
            for way, (run, is_async) in ways.items():
                if self.reset:
                    self.reset()
                seconds = _async_time(run) if is_async else _sync_time(run)
                times[way] = min(times.get(way, seconds), seconds)
        sample = items[:20]
        per_op = []
        for one, is_async in ((self.sync_one, False), (self.async_one, True)):
            if self.reset:
                self.reset()
            if is_async:

                async def run(one: Any = one) -> None:
                    for item in sample:
                        await one(item)

            else:

                def run(one: Any = one) -> None:
                    for item in sample:
                        one(item)

            per_op.append(_commands(database, run, is_async) / len(sample))
        n = len(items)
        return [
            self.name,
            n,
            round(n / times["sync"]),
            round(n / times["async"]),
            round(n / times["concurrent"]),
            f"{times['async'] / times['sync']:.2f}",
            f"{times['sync'] / times['concurrent']:.2f}",
            f"{per_op[0]:g} / {per_op[1]:g}",
        ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    Person = person.person_model()
    database = person.database()
    n = options.instances
    with private_server() as server:
        database.connect(**server.connection_kwargs())
        print(machine_line(machine_description(server)))
        values = [person.values_of(k) for k in range(1, n + 1)]

        def flush() -> None:
            database.connection.flushdb()

        async def acreate(item: dict[str, str]) -> None:
            await Person.acreate(**item)

        w1 = Workload("W1 create", values, lambda item: Person(**item), acreate, reset=flush)
        rows = [w1.measure(database, options.rounds, options.concurrency)]
        flush()
        for item in values:
            Person(**item)

        cities = person.CITIES
        kinds = [
            lambda k: {"city": cities[k % len(cities)]},
            lambda k: {"city__in": [cities[(k + j * 17) % len(cities)] for j in range(3)]},
            lambda k: {"age__gte": 18 + k % 50, "age__lt": 28 + k % 50},
            lambda k: {"city__startswith": person.city_prefix(k)},
        ]
        queries = [kinds[k % 4](k) for k in range(options.queries)]

        def sync_query(filters: dict[str, Any]) -> None:
            list(Person.collection(**filters))
            Person.collection(**filters).count()

        async def async_query(filters: dict[str, Any]) -> None:
            await Person.collection(**filters).alist()
            await Person.collection(**filters).acount()

        w2 = Workload("W2 filter + count", queries, sync_query, async_query)
        rows.append(w2.measure(database, options.rounds, options.concurrency))

        fields = ("email", "city", "age")
        version = iter(range(10**9))

        def updates() -> list[tuple[str, str, str]]:
            v = f"v{next(version)}"
            return [
                (str(k), fields[k % 3], person.new_value(fields[k % 3], k, v))
                for k in range(1, n + 1)
            ]

        w5 = Workload(
            "W5 update indexed",
            updates(),
            lambda item: getattr(Person.lazy_connect(item[0]), item[1]).hset(item[2]),
            lambda item: getattr(Person.lazy_connect(item[0]), item[1]).ahset(item[2]),
        )

        def fresh_values() -> None:
            w5.items = updates()

        w5.reset = fresh_values
        rows.append(w5.measure(database, options.rounds, options.concurrency))
        from django_limpyd.consistency import consistency_check

        problems = consistency_check(Person)
        headers = [
            "workload",
            "ops",
            "sync op/s",
            "async op/s",
            f"async x{options.concurrency} op/s",
            "async/sync time",
            f"x{options.concurrency}/sync throughput",
            "commands/op sync / async",
        ]
        print(format_table(headers, rows))
        print(f"consistency_check after the runs: {problems or 'indexes exact'}")
        database.close()


if __name__ == "__main__":
    main()
