"""The reading workloads: W2 (filters and their length), W3 (pages of values), W4
(an instance's fields, existence checked), W4p (the same for many instances in
one pipeline).

Each is a function of a :class:`~benchmarks.bench.Bench` returning table rows;
the data is created (untimed) if the previous workloads did not leave it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import person
from benchmarks.bench import BATCH, Bench, combine, same, same_sets
from benchmarks.common import batches
from benchmarks.reference import PAGE_FIELDS, Reference

__all__ = ["w2", "w3", "w4", "w4p"]


def w2(bench: Bench, queries: int) -> list[dict[str, Any]]:
    """Filters (equality, __in, range, startswith) and len() of each."""
    bench.ensure_data()
    Person = bench.Person
    cities = person.CITIES
    per_kind = max(queries // 8, 1)

    def arg(kind: str, k: int) -> Any:
        if kind == "eq":
            return cities[k % len(cities)]
        if kind == "in":
            return [cities[(k + j * 17) % len(cities)] for j in range(3)]
        if kind == "range":
            low = 18 + k % 50
            return (low, low + 10)
        return person.city_prefix(k)

    kinds = {
        "eq": ("city=c", Reference.city_eq, lambda a: Person.collection(city=a)),
        "in": ("city__in=[3]", Reference.city_in, lambda a: Person.collection(city__in=a)),
        "range": (
            "10 <= age < 20",
            lambda ref, a: ref.age_range(*a),
            lambda a: Person.collection(age__gte=a[0], age__lt=a[1]),
        ),
        "startswith": (
            "city__startswith",
            Reference.city_startswith,
            lambda a: Person.collection(city__startswith=a),
        ),
    }
    lengths = {
        "eq": Reference.len_city_eq,
        "in": Reference.len_city_in,
        "range": lambda ref, a: ref.len_age_range(*a),
        "startswith": Reference.len_city_startswith,
    }
    rows = []
    for counting in (False, True):
        for kind, (text, ref_list, ours_collection) in kinds.items():
            items = [arg(kind, k) for k in range(per_kind)]
            warm = [arg(kind, k + 1) for k in range(min(per_kind, 40))]
            if counting:
                ref_len = lengths[kind]

                def ref_run(ref, part, f=ref_len):
                    return [f(ref, a) for a in part]

                def ours_run(part, c=ours_collection):
                    return [len(c(a)) for a in part]

                label = f"W2 len({text})"
            else:

                def ref_run(ref, part, f=ref_list):
                    return [f(ref, a) for a in part]

                def ours_run(part, c=ours_collection):
                    return [list(c(a)) for a in part]

                label = f"W2 {text}"
            rows.append(
                bench.compare(
                    "W2", label, items, ref_run, ours_run, warm=warm, check=same_sets, block=5
                )
            )
    return [combine("W2", "W2 filters and len(), all", rows), *rows]


def w3(bench: Bench, pages: int) -> list[dict[str, Any]]:
    """A filtered, sorted page of 50 with values()."""
    bench.ensure_data()
    Person = bench.Person
    cities = person.CITIES
    per_city = max(bench.n // len(cities) // 50, 1)

    def page(k: int) -> tuple[str, int]:
        return cities[k % len(cities)], 50 * ((k // len(cities)) % per_city)

    items = [page(k) for k in range(pages)]
    warm = [page(k + 3) for k in range(50)]

    def ref_run(ref: Reference, part: Sequence[tuple]) -> list:
        return [ref.page(city, offset, 50) for city, offset in part]

    def ours_run(part: Sequence[tuple]) -> list:
        return [
            list(
                Person.collection(city=city)
                .sort(by="name", alpha=True)
                .values(*PAGE_FIELDS)[offset : offset + 50]
            )
            for city, offset in part
        ]

    row = bench.compare(
        "W3",
        "W3 page of 50: city=, sort(name), values()",
        items,
        ref_run,
        ours_run,
        warm=warm,
        check=same,
        block=25,
    )
    return [row]


def w4(bench: Bench) -> list[dict[str, Any]]:
    """Load one instance's fields, its existence checked: ``hgetall``, ``hmget``.

    Every operation connects a new instance with ``Person.lazy_connect(pk)``, so
    that the existence check is part of it; the reference checks and reads in one
    script (:meth:`Reference.checked_hgetall`).
    """
    bench.ensure_data()
    Person = bench.Person
    pks = [str(k) for k in range(1, bench.n + 1)]
    names = ["name", "email", "age"]
    warm = pks[-100:]
    rows = [
        bench.compare(
            "W4",
            "W4 lazy_connect(pk).hgetall()",
            pks,
            lambda ref, part: [ref.checked_hgetall(pk) for pk in part],
            lambda part: [Person.lazy_connect(pk).hgetall() for pk in part],
            warm=warm,
            check=same,
            block=100,
        ),
        bench.compare(
            "W4",
            "W4 lazy_connect(pk).hmget(3 fields)",
            pks,
            lambda ref, part: [ref.checked_hmget(pk, names) for pk in part],
            lambda part: [Person.lazy_connect(pk).hmget(*names) for pk in part],
            warm=warm,
            check=same,
            block=100,
        ),
    ]
    connect = bench.compare(
        "W4",
        "W4 Person(pk).hgetall()",
        pks,
        lambda ref, part: [ref.checked_hgetall(pk) for pk in part],
        lambda part: [Person(pk).hgetall() for pk in part],
        warm=warm,
        check=same,
        block=100,
    )
    connect["informative"] = True
    connect["note"] = (
        "Person(pk).hgetall() (the constructor checks existence at once, then the read): "
        "informative, not in the W4 total"
    )
    return [combine("W4", "W4 load fields, existence checked, all", rows), *rows, connect]


def w4p(bench: Bench, passes: int = 2) -> list[dict[str, Any]]:
    """Load the fields of BATCH instances in one pipeline, existence checked.

    Ours: ``with database.pipeline(transaction=False) as p:``, then
    ``Person.lazy_connect(pk).hgetall()`` for each pk of the batch and
    ``p.execute()``; the reference pipelines its existence-checked read script
    (:meth:`Reference.checked_hgetall_many`). The W4p row reads every instance
    ``passes`` times; an informative row reads them once with the default
    pipeline (``MULTI``/``EXEC``), against the same reference.
    """
    bench.ensure_data()
    Person, db = bench.Person, bench.db
    chunks = list(batches((str(k) for k in range(1, bench.n + 1)), BATCH))
    warm = [chunks[-1] if len(chunks[-1]) == BATCH or len(chunks) == 1 else chunks[-2]]
    size = len(warm[0])

    def ref_run(ref: Reference, part: Sequence[list[str]]) -> list:
        return [ref.checked_hgetall_many(chunk) for chunk in part]

    def ours_run(transaction: bool) -> Callable[[Sequence[list[str]]], list]:
        def run(part: Sequence[list[str]]) -> list:
            results = []
            for chunk in part:
                with db.pipeline(transaction=transaction) as pipeline:
                    for pk in chunk:
                        Person.lazy_connect(pk).hgetall()
                    results.append(pipeline.execute())
            return results

        return run

    def ops_of(part: Sequence[list[str]]) -> int:
        return sum(len(chunk) for chunk in part)

    rows = []
    for transaction, label, items in (
        (False, f"W4p load fields, pipelines of {size}", chunks * passes),
        (True, "W4p the same, default pipeline (MULTI/EXEC)", chunks),
    ):
        row = bench.compare(
            "W4p",
            label,
            items,
            ref_run,
            ours_run(transaction),
            warm=warm,
            check=same,
            block=1,
            ops_of=ops_of,
        )
        for side in ("ref", "ours"):
            row[f"{side}_round_trips_per_pipeline"] = row[f"{side}_round_trips_per_op"] * size
        rows.append(row)
    main, multi = rows
    main["note"] = (
        f"Person.lazy_connect(pk).hgetall() x {size} in database.pipeline(transaction=False); "
        f"round trips per pipeline: reference {main['ref_round_trips_per_pipeline']:.0f}, "
        f"ours {main['ours_round_trips_per_pipeline']:.0f}"
    )
    multi["informative"] = True
    multi["note"] = (
        "with the default pipeline (MULTI/EXEC): informative, not the W4p row; round trips "
        f"per pipeline: ours {multi['ours_round_trips_per_pipeline']:.0f}"
    )
    return rows
