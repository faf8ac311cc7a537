"""What expiry-aware reads cost: a model with expiry against the same model without.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.expiry_ratio [--instances 5000] [--queries 400]
                                                [--rounds 3] [--redis-server PATH]

On a private ``redis-server`` (unix socket, started and stopped by the script), two
models with the same fields and indexes (a unique ``email``, an ``EqualIndex`` on
``city``, a ``NumberRangeIndex`` on ``age``, three plain hash entries): ``Plain``, and
``Expiring`` (``ttl = 3600``: every instance has a deadline, none passes during the
run). Each workload runs the same operations on both; printed: microseconds per
operation (best of ``--rounds``), the ratio Expiring / Plain, and the commands each
sends per operation (client side). The last rows run with 10% of the Expiring instances
past their deadline and not cleaned up yet (listed and skipped by the collection
function); the same instances are deleted from Plain.

What differs for a model with expiry (docs/orm/expiry.rst): every read of an instance
is a read-only function call comparing its deadline (a plain ``HGET`` otherwise); the
existence check of ``Model(pk)`` too (``ZSCORE`` otherwise); a single-index filter goes
through the collection function instead of a direct index read.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.common import (
    configure_django,
    format_table,
    machine_description,
    machine_line,
    private_server,
)

CITIES = [f"c{k:02d}" for k in range(50)]


def build_models() -> tuple[Any, type, type]:
    configure_django()
    from django_limpyd.database import RedisDatabase
    from django_limpyd.indexes import EqualIndex, NumberRangeIndex
    from django_limpyd.model import InstanceHashField, RedisModel

    database = RedisDatabase()

    def fields() -> dict[str, Any]:
        return {
            "email": InstanceHashField(unique=True),
            "city": InstanceHashField(indexable=True, indexes=[EqualIndex]),
            "age": InstanceHashField(indexable=True, indexes=[NumberRangeIndex]),
            "name": InstanceHashField(),
            "phone": InstanceHashField(),
            "note": InstanceHashField(),
        }

    base = {"__module__": __name__, "database": database, "namespace": "bench"}
    plain = type("Plain", (RedisModel,), {**base, **fields()})
    expiring = type("Expiring", (RedisModel,), {**base, "ttl": 3600, **fields()})
    return database, plain, expiring


def values_of(n: int) -> dict[str, str]:
    return {
        "email": f"person{n}@example.org",
        "city": CITIES[n % len(CITIES)],
        "age": str(18 + n % 63),
        "name": f"n{n}",
        "phone": f"+33 6 {n:08d}",
        "note": "Met at the 2024 meetup.",
    }


def best(run: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def commands(database: Any, run: Callable[[], Any]) -> int:
    from django_limpyd.test.commands import count_commands

    with count_commands(database) as recorder:
        run()
    return recorder.num_commands


def measure(
    label: str,
    database: Any,
    operations: Sequence[Any],
    plain: Callable[[Any], Any],
    expiring: Callable[[Any], Any],
    rounds: int,
) -> list[Any]:
    def runner(one: Callable[[Any], Any]) -> Callable[[], None]:
        def run() -> None:
            for item in operations:
                one(item)

        return run

    one_plain = runner(plain)
    one_expiring = runner(expiring)
    count = len(operations)
    t_plain = best(one_plain, rounds) / count * 1e6
    t_expiring = best(one_expiring, rounds) / count * 1e6
    c_plain = commands(database, one_plain) / count
    c_expiring = commands(database, one_expiring) / count
    return [label, count, t_plain, t_expiring, t_expiring / t_plain, c_plain, c_expiring]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-server", default=None, metavar="PATH")
    options = parser.parse_args(argv)
    database, Plain, Expiring = build_models()
    n = options.instances
    rng = random.Random(23)
    with private_server(binary=options.redis_server) as server:
        database.connect(**server.connection_kwargs())
        print(machine_line(machine_description(server)))
        for model in (Plain, Expiring):
            for start in range(1, n + 1, 1000):
                model.bulk_create(values_of(k) for k in range(start, min(start + 1000, n + 1)))
        pks = [str(k) for k in range(1, n + 1)]
        reads = [rng.choice(pks) for _ in range(options.queries * 5)]
        held_plain = {pk: Plain.lazy_connect(pk) for pk in set(reads)}
        held_expiring = {pk: Expiring.lazy_connect(pk) for pk in set(reads)}
        for pk in set(reads):
            held_plain[pk].hgetall(), held_expiring[pk].hgetall()  # existence checked
        kinds = [
            lambda k: {"city": CITIES[k % len(CITIES)]},
            lambda k: {"city": CITIES[k % len(CITIES)], "age__gte": 40},
            lambda k: {"age__gte": 18 + k % 50, "age__lt": 21 + k % 50},
        ]
        queries = [kinds[k % 3](k) for k in range(options.queries)]
        pages = [k * 25 % max(1, n - 50) for k in range(options.queries)]
        rounds = options.rounds

        def filters(model: type) -> Callable[[dict[str, Any]], Any]:
            return lambda f: list(model.collection(**f))

        def counts(model: type) -> Callable[[dict[str, Any]], Any]:
            return lambda f: model.collection(**f).count()

        def page(model: type) -> Callable[[int], Any]:
            return lambda start: list(model.collection()[start : start + 50])

        def rows() -> list[list[Any]]:
            return [
                measure(
                    "filter (eq, eq+range, range)",
                    database,
                    queries,
                    filters(Plain),
                    filters(Expiring),
                    rounds,
                ),
                measure(
                    "count of the same filters",
                    database,
                    queries,
                    counts(Plain),
                    counts(Expiring),
                    rounds,
                ),
                measure(
                    "page of 50, no filter", database, pages, page(Plain), page(Expiring), rounds
                ),
            ]

        table = [
            measure(
                "Model(pk).hgetall()",
                database,
                reads,
                lambda pk: Plain(pk).hgetall(),
                lambda pk: Expiring(pk).hgetall(),
                rounds,
            ),
            measure(
                "lazy_connect(pk).hgetall()",
                database,
                reads,
                lambda pk: Plain.lazy_connect(pk).hgetall(),
                lambda pk: Expiring.lazy_connect(pk).hgetall(),
                rounds,
            ),
            measure(
                "held instance .name.hget()",
                database,
                reads,
                lambda pk: held_plain[pk].name.hget(),
                lambda pk: held_expiring[pk].name.hget(),
                rounds,
            ),
            *rows(),
        ]
        update = [(pk, f"x{k}") for k, pk in enumerate(rng.sample(pks, min(n // 2, 1000)))]
        table.append(
            measure(
                "update an indexed field",
                database,
                update,
                lambda item: Plain.lazy_connect(item[0]).city.hset(item[1]),
                lambda item: Expiring.lazy_connect(item[0]).city.hset(item[1]),
                1,
            )
        )
        # 10% past their deadline, not cleaned up yet (the same 10% deleted from Plain)
        gone = rng.sample(pks, n // 10)
        database.connection.zadd(Expiring._meta.keys.expiry, dict.fromkeys(gone, 1))
        for pk in gone:
            Plain.lazy_connect(pk).delete()
        table += [[f"{row[0]}, 10% expired", *row[1:]] for row in rows()]
    headers = ["workload", "ops", "Plain us/op", "Expiring us/op", "ratio", "cmd/op", "cmd/op"]
    print(
        format_table(
            headers,
            [
                [
                    r[0],
                    r[1],
                    f"{r[2]:.0f}",
                    f"{r[3]:.0f}",
                    f"{r[4]:.2f}",
                    f"{r[5]:.2f}",
                    f"{r[6]:.2f}",
                ]
                for r in table
            ],
        )
    )


if __name__ == "__main__":
    main()
