"""The writing workloads: W1 and W1p (creates), W5 (updates), W6 (deletes), M (memory).

Each is a function of a :class:`~benchmarks.bench.Bench` returning table rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import person
from benchmarks.bench import BATCH, Bench, combine, require, same
from benchmarks.common import batches
from benchmarks.reference import Reference

__all__ = ["memory", "w1", "w1p", "w5", "w6"]


def w1(bench: Bench) -> list[dict[str, Any]]:
    """Create N instances one by one."""
    Person, n = bench.Person, bench.n
    bench.flush()
    warm = [person.values_of(n + 1 + k) for k in range(100)]
    items = [person.values_of(k) for k in range(1, n + 1)]

    def ref_run(ref: Reference, part: Sequence[dict]) -> list:
        return [ref.create(values) for values in part]

    def ours_run(part: Sequence[dict]) -> list:
        return [Person(**values).pk.get() for values in part]

    row = bench.compare(
        "W1",
        "W1 create, one by one",
        items,
        ref_run,
        ours_run,
        warm=warm,
        check=same,
        after_warm=bench.flush,
        block=100,
    )
    bench.have_data = True
    bench.check_same_pks()
    row["note"] = "indexes exact" if bench.check_consistency("after W1") else ""
    return [row]


def w1p(bench: Bench) -> list[dict[str, Any]]:
    """Create N instances in pipelines of BATCH.

    The W1p row: ``with database.pipeline(transaction=False) as p:``, the creates of
    the batch, ``p.execute()``, as the reference pipelines its create script (no
    ``MULTI``); an informative row creates them again with the default pipeline
    (``MULTI``/``EXEC``), against the same reference.
    """
    Person, db, n = bench.Person, bench.db, bench.n
    warm = [[person.values_of(n + 1 + k) for k in range(BATCH)]]
    items = list(batches((person.values_of(k) for k in range(1, n + 1)), BATCH))

    def ref_run(ref: Reference, part: Sequence[list]) -> list:
        return [ref.create_many(batch) for batch in part]

    def ours_run(transaction: bool) -> Callable[[Sequence[list]], list]:
        def run(part: Sequence[list]) -> list:
            created = []
            for batch in part:
                with db.pipeline(transaction=transaction) as pipeline:
                    instances = [Person(**values) for values in batch]
                    pipeline.execute()
                created.append([instance.pk.get() for instance in instances])
            return created

        return run

    rows = []
    for transaction, label in (
        (False, f"W1p create, pipelines of {BATCH}"),
        (True, "W1p the same, default pipeline (MULTI/EXEC)"),
    ):
        bench.flush()
        row = bench.compare(
            "W1p",
            label,
            items,
            ref_run,
            ours_run(transaction),
            warm=warm,
            check=same,
            after_warm=bench.flush,
            block=1,
            ops_of=lambda part: sum(len(batch) for batch in part),
        )
        bench.have_data = True
        bench.check_same_pks()
        exact = "indexes exact" if bench.check_consistency(f"after {label}") else ""
        row["note"] = exact
        rows.append(row)
    main, multi = rows
    main["note"] = (
        f"Person(**values) x {BATCH} in database.pipeline(transaction=False), as the "
        f"reference pipelines its script (no MULTI); {main['note']}"
    )
    multi["informative"] = True
    multi["note"] = (
        f"with the default pipeline (MULTI/EXEC): informative, not the W1p row; {multi['note']}"
    )
    return rows


def w5(bench: Bench) -> list[dict[str, Any]]:
    """Update an indexed field: email (unique), city (2 indexes), age (range)."""
    bench.ensure_data()
    Person = bench.Person
    n = bench.n
    setters = {
        "email": lambda pk, value: Person.lazy_connect(pk).email.hset(value),
        "city": lambda pk, value: Person.lazy_connect(pk).city.hset(value),
        "age": lambda pk, value: Person.lazy_connect(pk).age.hset(value),
    }
    labels = {"email": "email (unique)", "city": "city (eq + text)", "age": "age (number)"}
    rows = []
    for position, (field, setter) in enumerate(setters.items()):
        numbers = range(1 + position, n + 1, len(setters))
        items = [(str(k), field, person.new_value(field, k, "v2")) for k in numbers]
        warm = [(str(k), field, person.new_value(field, k, "w")) for k in numbers[:60]]

        def ref_run(ref, part):
            return [ref.update(pk, f, value) for pk, f, value in part]

        def ours_run(part, setter=setter):
            return [setter(pk, value) for pk, _, value in part]

        rows.append(
            bench.compare(
                "W5",
                f"W5 update {labels[field]}",
                items,
                ref_run,
                ours_run,
                warm=warm,
                check=same,
                block=100,
            )
        )
    total = combine("W5", "W5 update an indexed field, all", rows)
    total["note"] = "indexes exact" if bench.check_consistency("after W5") else ""
    sample = [str(k) for k in range(1, n + 1, max(n // 200, 1))]
    for pk in sample:
        require(bench.ref.hgetall(pk) == Person(pk).hgetall(), f"W5: values of {pk} differ")
    return [total, *rows]


def w6(bench: Bench) -> list[dict[str, Any]]:
    """Delete N instances."""
    bench.ensure_data()
    Person, n = bench.Person, bench.n
    extra = range(n + 1, n + 101)  # created untimed, deleted by the counted warm-up
    bench.fill_ref(extra)
    bench.fill_ours(extra)
    bench.check_same_pks()
    items = [str(k) for k in range(1, n + 1)]

    def ref_run(ref: Reference, part: Sequence[str]) -> list:
        return [bool(ref.delete(pk)) for pk in part]

    def ours_run(part: Sequence[str]) -> list:
        return [Person.lazy_connect(pk).delete() for pk in part]

    row = bench.compare(
        "W6",
        "W6 delete, one by one",
        items,
        ref_run,
        ours_run,
        warm=[str(k) for k in extra],
        check=same,
        block=100,
    )
    bench.have_data = False
    ref_left = sorted(bench.ref_client.keys("*"))
    ours_left = sorted(bench.Person.scan_model_keys())
    require(ref_left == ["person:next"], f"reference keys left after W6: {ref_left[:5]}")
    require(ours_left == [Person._meta.keys.max_pk], f"our keys left after W6: {ours_left[:5]}")
    row["note"] = "no key left but the pk counters"
    return [row]


def _memory(bench: Bench) -> dict[str, int]:
    """``used_memory`` and what client buffers hold of it (``MEMORY STATS``)."""
    stats = bench.admin.memory_stats()
    return {"used": stats["total.allocated"], "clients": stats["clients.normal"]}


def memory(bench: Bench) -> list[dict[str, Any]]:
    """M: used_memory per instance, after a flush, around the creation of N.

    Client buffers (the query buffer a pipeline leaves until the server trims
    it) are not data: their change is taken out of the ``used_memory`` change.
    """
    n = bench.n
    bench.admin.flushall()
    bench.have_data = False
    before = _memory(bench)
    bench.fill_ref(range(1, n + 1))
    after_ref = _memory(bench)
    bench.fill_ours(range(1, n + 1))
    after_ours = _memory(bench)
    bench.have_data = True
    bench.check_same_pks()

    def per_instance(start: dict[str, int], end: dict[str, int]) -> float:
        return ((end["used"] - start["used"]) - (end["clients"] - start["clients"])) / n

    ref_bytes, ours_bytes = per_instance(before, after_ref), per_instance(after_ref, after_ours)
    raw_ref = (after_ref["used"] - before["used"]) / n
    raw_ours = (after_ours["used"] - after_ref["used"]) / n
    ref_keys, ours_keys = bench.ref_client.dbsize(), bench.db.connection.dbsize()
    bench.log(f"M: reference {ref_bytes:.0f} B/instance, ours {ours_bytes:.0f} B/instance")
    return [
        {
            "id": "M",
            "workload": "M Redis memory per instance",
            "ops": n,
            "ratio": ours_bytes / ref_bytes,
            "ref_memory_per_instance": ref_bytes,
            "ours_memory_per_instance": ours_bytes,
            "ref_used_memory_change_per_instance": raw_ref,
            "ours_used_memory_change_per_instance": raw_ours,
            "ref_keys": ref_keys,
            "ours_keys": ours_keys,
            "note": (
                f"used_memory change minus client buffers' (raw change: reference "
                f"{raw_ref:.0f}, ours {raw_ours:.0f} B/instance); keys: reference "
                f"{ref_keys:,}, ours {ours_keys:,}"
            ),
        }
    ]
