"""Collection pages at any size: does a page of 50 cost the same at 10k, 100k, 1M?

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.collections_scale [--sizes 10000,100000,1000000]
                                                     [--repeat 20] [--json PATH]

For each size N (smallest first) it starts its own ``redis-server`` (see
:func:`benchmarks.common.private_server`), loads N ``Person`` instances
(``bulk_create`` of 1000 in a ``transaction=False`` pipeline; the load time is
printed) and measures the pages an admin changelist asks for:

* the first page in the default order, as ``count_and_slice(0, 50)`` and as a
  plain ``[0:50]``; the last page ``[N-50:N]``;
* a page sorted by ``-age`` (a number range index) and by ``name`` (alpha,
  a text range index);
* a filtered page: ``city='Paris'`` sorted by ``-age``, and
  ``city='Paris', age__gte=30``;
* counts: ``len(collection(city='Paris'))`` and ``len(collection())``.

Each workload runs once untimed (warm-up), then ``--repeat`` times, each on a
new collection (a collection keeps its results), timed one by one: the table
gives the median in ms. ``INFO commandstats`` read before and after the timed
runs gives the commands the server executed per page (those called inside the
Lua functions included; the measure's own ``INFO`` left out) and the three
most frequent. ``collection.explain()`` (strategy, commands, estimated cost)
is recorded for each workload and size (for the two counts, the plan of
listing the collection: ``explain()`` has no counting mode). The last two
columns are the ratios of the largest size to the smallest; the target is a
ratio of at most 2 (``!`` marks a miss): a page must not cost more because
the model is bigger. 1M instances load in about a minute (Redis then uses
about 650 MiB): run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.common import (
    batches,
    configure_django,
    format_table,
    machine_description,
    machine_line,
    private_server,
    timed,
    write_json,
)

BATCH = 1000
PAGE = 50
TARGET = 2.0
CITIES = [
    "Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Strasbourg",
    "Montpellier", "Bordeaux", "Lille", "Rennes", "Reims", "Toulon", "Grenoble",
    "Dijon", "Angers", "Nimes", "Brest", "Tours", "Limoges",
]  # fmt: skip


def values_of(k: int) -> dict[str, str]:
    """The values of the k-th instance (from 1): ages, names and cities not in pk order."""
    return {
        "name": f"n{(k * 7919) % 1_000_003:07d}",  # distinct for k < 1,000,003
        "age": str(18 + (k * 37) % 63),
        "city": CITIES[(k * 13) % len(CITIES)],
        "email": f"person{k}@example.org",
    }


@functools.cache
def person_model() -> type:
    """A ``Person`` like the demo's, on its own database (connected per size)."""
    configure_django()
    from django_limpyd.contrib.collection import ExtendedCollectionManager
    from django_limpyd.database import RedisDatabase
    from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
    from django_limpyd.model import InstanceHashField, RedisModel

    class Person(RedisModel):
        database = RedisDatabase()
        namespace = "scale"
        collection_manager = ExtendedCollectionManager

        name = InstanceHashField(indexable=True, indexes=[TextRangeIndex])
        age = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        city = InstanceHashField(indexable=True, indexes=[EqualIndex])
        email = InstanceHashField(unique=True)

    return Person


@dataclass
class Workload:
    label: str
    build: Callable[[type, int], Any]  # a new collection (its results are not kept yet)
    run: Callable[[Any], Any] = list
    explained: Callable[[Any], Any] = lambda collection: collection  # what explain() sees


def _paris(P: type) -> Any:
    return P.collection(city="Paris")


WORKLOADS = [
    Workload(
        "first page, count_and_slice(0, 50)",
        lambda P, n: P.collection(),
        run=lambda c: c.count_and_slice(0, PAGE),
        explained=lambda c: c[0:PAGE],
    ),
    Workload("first page [0:50]", lambda P, n: P.collection()[0:PAGE]),
    Workload("last page [N-50:N]", lambda P, n: P.collection()[n - PAGE : n]),
    Workload("sort(by='-age')[0:50]", lambda P, n: P.collection().sort(by="-age")[0:PAGE]),
    Workload(
        "sort(by='name', alpha)[0:50]",
        lambda P, n: P.collection().sort(by="name", alpha=True)[0:PAGE],
    ),
    Workload("city=Paris, sort(-age)[0:50]", lambda P, n: _paris(P).sort(by="-age")[0:PAGE]),
    Workload(
        "city=Paris, age__gte=30 [0:50]",
        lambda P, n: P.collection(city="Paris", age__gte=30)[0:PAGE],
    ),
    Workload("len(city=Paris)", lambda P, n: _paris(P), run=len),
    Workload("len(collection())", lambda P, n: P.collection(), run=len),
]

#: commands of the measure itself, not of the pages
_NOT_COUNTED = ("cmdstat_info", "cmdstat_config", "cmdstat_client", "cmdstat_hello")


def _server_calls(admin: Any) -> dict[str, int]:
    stats = admin.info("commandstats")
    return {
        key.removeprefix("cmdstat_"): value["calls"]
        for key, value in stats.items()
        if not key.startswith(_NOT_COUNTED)
    }


def load(Person: type, n: int) -> float:
    """Create instances 1..n, BATCH per pipeline (no MULTI); returns seconds."""
    database = Person._meta.database
    with timed() as t:
        for batch in batches((values_of(k) for k in range(1, n + 1)), BATCH):
            with database.pipeline(transaction=False) as pipeline:
                Person.bulk_create(batch)
                pipeline.execute()
    return t.seconds


def _size(result: Any) -> int:
    """How many results a run gave (a count is its own size; count_and_slice: the page)."""
    if isinstance(result, int):
        return result
    return len(result[1] if isinstance(result, tuple) else result)


def measure(Person: type, admin: Any, n: int, work: Workload, repeat: int) -> dict[str, Any]:
    """Median ms, server commands per page (and the top 3) and explain() of ``work``."""
    work.run(work.build(Person, n))  # warm-up (and the function library loaded)
    before = _server_calls(admin)
    times = []
    for _ in range(repeat):
        collection = work.build(Person, n)
        start = time.perf_counter()
        result = work.run(collection)
        times.append(time.perf_counter() - start)
    after = _server_calls(admin)
    calls = {name: after[name] - before.get(name, 0) for name in after}
    calls = {name: count / repeat for name, count in calls.items() if count}
    top = sorted(calls.items(), key=lambda item: (-item[1], item[0]))[:3]
    return {
        "workload": work.label,
        "n": n,
        "ms": statistics.median(times) * 1000,
        "ms_min": min(times) * 1000,
        "server_commands": sum(calls.values()),
        "top_commands": top,
        "results": _size(result),
        "explain": work.explained(work.build(Person, n)).explain(),
    }


def run_size(n: int, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    """One private server with n instances: the load, then every workload."""
    Person = person_model()
    database = Person._meta.database
    with private_server() as server:
        database.connect(**server.connection_kwargs())
        admin = server.client()
        try:
            machine = machine_description(server)
            seconds = load(Person, n)
            log(f"N={n:,}: loaded in {seconds:.1f}s ({n / seconds:,.0f} instances/s)")
            rows = []
            for work in WORKLOADS:
                row = measure(Person, admin, n, work, repeat)
                log(f"  {work.label}: {row['ms']:.3f} ms, {row['server_commands']:g} server cmd")
                rows.append(row)
            memory = admin.info("memory")["used_memory"]
        finally:
            admin.close()
            database.close()
    return {"n": n, "load_seconds": seconds, "memory": memory, "rows": rows, "machine": machine}


def _ratio(big: float, small: float) -> str:
    if not small:
        return "-" if not big else "inf !"
    ratio = big / small
    return f"{ratio:.2f}" + (" !" if ratio > TARGET else "")


def report(result: dict[str, Any]) -> str:
    """The machine line, the load times, the table and the explain() lines."""
    sizes = result["sizes"]
    small, big = sizes[0]["n"], sizes[-1]["n"]
    headers = ["workload"]
    for size in sizes:
        headers += [f"ms {size['n']:,}", f"cmd {size['n']:,}"]
    headers += [f"ms {big:,}/{small:,}", f"cmd {big:,}/{small:,}"]
    table = []
    for i, work in enumerate(WORKLOADS):
        cells = [(size["rows"][i]["ms"], size["rows"][i]["server_commands"]) for size in sizes]
        row: list[Any] = [work.label]
        for ms, commands in cells:
            row += [round(ms, 3), int(commands) if commands == int(commands) else commands]
        row += [_ratio(cells[-1][0], cells[0][0]), _ratio(cells[-1][1], cells[0][1])]
        table.append(row)
    lines = [
        f"machine: {machine_line(sizes[0]['machine'])}",
        "load: "
        + "; ".join(
            f"N={s['n']:,} {s['load_seconds']:.1f}s ({s['memory'] / 2**20:,.0f} MiB used)"
            for s in sizes
        ),
        f"ms: median of {result['repeat']} pages; cmd: server commands per page (Lua calls "
        f"included); ratios: largest N / smallest, target <= {TARGET:g} (! over)",
        "",
        format_table(headers, table),
        "",
        "server commands (top 3) and explain() per workload:",
    ]
    for i, work in enumerate(WORKLOADS):
        lines.append(f"{work.label}:")
        for size in sizes:
            row = size["rows"][i]
            top = ", ".join(f"{name} {count:g}" for name, count in row["top_commands"])
            plan = row["explain"]
            lines.append(
                f"  N={size['n']:,}: {row['results']:,} results; {top}; strategy "
                f"{plan['strategy']!r}, cost {plan['cost']}, commands {plan['commands']}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.collections_scale",
        description="Collection pages and counts at several sizes: ms and server commands.",
    )
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="instances, comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed pages per workload (20)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(part) for part in args.sizes.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--sizes takes integers: {args.sizes!r}")
    if not sizes or sizes[0] < PAGE or args.repeat < 1:
        parser.error(f"sizes must be at least {PAGE}, --repeat at least 1")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = {
        "benchmark": "collections_scale",
        "repeat": args.repeat,
        "sizes": [run_size(n, args.repeat, log) for n in sizes],
    }
    print(report(result))
    if args.json:
        write_json(args.json, result)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
