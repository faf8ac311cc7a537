"""Index rebuild, clear and consistency check on many instances: time and memory.

Run ``python -m benchmarks.rebuild_indexes [--instances 100000] [--also 10000]
[--chunk-size 1000] [--json PATH]`` (see ``benchmarks/README.rst``).

For each size (smallest first, each in its own Redis database of one private
server) and for two models -- one with an ``AutoPKField``, one with a
``PKField`` holding pks like ``user:{n}*`` -- the script:

1. checks that the raw fill below writes exactly what the ORM writes (one
   instance created by the ORM, then the same one written raw: same keys, same
   types, same contents);
2. fills N instances *without* the ORM: pipelines of 5000 instances writing the
   data keys (named by ``Model._meta.keys``) and no index entry, as after
   adding indexes to fields that already hold data;
3. for each indexed field, ``field.rebuild_indexes(chunk_size)``: wall time,
   round trips and commands, growth of ``ru_maxrss`` (no tracing), then for
   the traced fields (``--trace``) a second rebuild, over the existing entries
   this time, under ``tracemalloc`` for the Python peak;
4. after every rebuild of every size: ``consistency_check(Model)`` must be
   ``[]`` (timed; traced too with ``--trace-check``), a few filters must
   return the expected pks, and ``field.clear_indexes(chunk_size)`` is timed
   (and must leave no entry).

Rebuilds run before any check so that the ``ru_maxrss`` high-water mark seen
by the rebuilds is not the one the (whole-model) checks leave behind.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from benchmarks.common import (
    batches,
    configure_django,
    format_table,
    machine_description,
    machine_line,
    max_rss_mib,
    private_server,
    timed,
    traced_peak,
    write_json,
)

FILL_BATCH = 5000

# -- the models and their data ----------------------------------------------------------


def build_models() -> list[tuple[type, Callable[[int], str]]]:
    """The two benchmark models, each with the pk of its n-th instance (n from 1)."""
    from django_limpyd.indexes import TextRangeIndex
    from django_limpyd.model import (
        InstanceHashField,
        PKField,
        RedisModel,
        StringField,
    )

    class AutoUser(RedisModel):
        namespace = "bench"
        name = InstanceHashField(indexable=True)
        city = StringField(indexable=True, indexes=[TextRangeIndex])
        email = InstanceHashField(unique=True)

    class NamedUser(RedisModel):
        namespace = "bench"
        ident = PKField()
        name = InstanceHashField(indexable=True)
        city = StringField(indexable=True, indexes=[TextRangeIndex])
        email = InstanceHashField(unique=True)

    return [(AutoUser, str), (NamedUser, lambda n: f"user:{n}*")]


def values_of(n: int) -> dict[str, str]:
    """The field values of the n-th instance.

    ``name``: 1000 distinct values (N/1000 pks each); ``city``: 500 distinct
    values; ``email``: unique.
    """
    return {
        "name": f"name-{n % 1000:03d}",
        "city": f"city-{n % 500:03d}",
        "email": f"user{n}@example.com",
    }


def raw_fill(model: type, pk_of: Callable[[int], str], first: int, last: int) -> None:
    """Write instances ``first..last`` the way the ORM stores them, index entries aside.

    Pipelines of ``FILL_BATCH`` instances; every key name comes from
    ``model._meta.keys``. The AutoPK counter is set to ``last``.
    """
    meta = model._meta
    keys = meta.keys
    connection = meta.database.connection
    fields = meta.data_fields
    for start in range(first, last + 1, FILL_BATCH):
        stop = min(start + FILL_BATCH, last + 1)
        pipe = connection.pipeline(transaction=False)
        pks = []
        for n in range(start, stop):
            pk = pk_of(n)
            values = values_of(n)
            in_hash = {}
            for field in fields:
                if field.storage_type == "hfield":
                    in_hash[field.name] = values[field.name]
                elif field.storage_type == "string":
                    pipe.set(keys.field(field.name, pk), values[field.name])
                else:  # pragma: no cover - the benchmark models have no other kind
                    raise ValueError(f"raw_fill cannot write {field!r}")
            if in_hash:
                pipe.hset(keys.instance_hash(pk), mapping=in_hash)
            pks.append(pk)
        pipe.zadd(keys.pks, {pk: int(pk) if meta.pk_field.auto else 0 for pk in pks})
        pipe.execute()
    if meta.pk_field.auto:
        connection.set(keys.max_pk, last)


def model_keys(model: type) -> list[str]:
    """Every key of ``model`` in the current database."""
    return list(model.scan_model_keys())


def data_snapshot(model: type) -> dict[str, tuple[str, Any]]:
    """``{key: (type, content)}`` of every key of the model but index entries."""
    connection = model._meta.database.connection
    index_prefix = model._meta.keys.prefix + ":x:"
    readers = {
        "string": connection.get,
        "hash": connection.hgetall,
        "set": lambda key: sorted(connection.smembers(key)),
        "zset": lambda key: connection.zrange(key, 0, -1, withscores=True),
        "list": lambda key: connection.lrange(key, 0, -1),
    }
    snapshot = {}
    for key in model_keys(model):
        if key.startswith(index_prefix):
            continue
        kind = connection.type(key)
        snapshot[key] = (kind, readers[kind](key))
    return snapshot


def delete_model_keys(model: type) -> None:
    connection = model._meta.database.connection
    keys = model_keys(model)
    if keys:
        connection.delete(*keys)


def check_layout(model: type, pk_of: Callable[[int], str]) -> None:
    """The raw fill writes what the ORM writes, key for key (else AssertionError)."""
    values = values_of(1)
    delete_model_keys(model)
    if model._meta.pk_field.auto:
        instance = model(**values)
    else:
        instance = model(**{model._meta.pk_field.name: pk_of(1)}, **values)
    require(instance.pk.get() == pk_of(1), f"ORM pk {instance.pk.get()!r}, not {pk_of(1)!r}")
    by_orm = data_snapshot(model)
    delete_model_keys(model)
    raw_fill(model, pk_of, 1, 1)
    by_fill = data_snapshot(model)
    delete_model_keys(model)
    if by_orm != by_fill:
        raise AssertionError(
            f"{model.__name__}: the raw fill differs from the ORM layout:\n"
            f"  ORM:  {by_orm!r}\n  fill: {by_fill!r}"
        )


# -- measures -----------------------------------------------------------------------------


class RoundTrips:
    """Counts round trips and commands of a database while registered."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self.round_trips = 0
        self.commands = 0

    def __call__(self, commands: Any, duration: float) -> None:
        self.round_trips += 1
        self.commands += len(commands)

    def __enter__(self) -> RoundTrips:
        self.database.add_observer(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.database.remove_observer(self)


def indexed_fields(model: type) -> Iterator[Any]:
    return (field for field in model._meta.data_fields if field.indexes)


def require(condition: bool, message: str) -> None:
    """Stop the benchmark with ``message`` unless ``condition`` (kept under ``-O``)."""
    if not condition:
        raise AssertionError(message)


def index_entries(field: Any) -> int:
    """How many entries the field's indexes hold (SCAN for equal indexes)."""
    connection = field.model._meta.database.connection
    keys = field.model._meta.keys
    total = 0
    for index in field.indexes:
        if index.kind != "eq":
            total += connection.zcard(index.storage_base)
            continue
        found = connection.scan_iter(match=keys.pattern_after(index.storage_base), count=1000)
        for chunk in batches(found, 1000):
            pipe = connection.pipeline(transaction=False)
            for key in chunk:
                pipe.scard(key)
            total += sum(pipe.execute())
    return total


def measure_rebuilds(
    model: type, size: int, chunk_size: int, trace: Callable[[Any], bool]
) -> list[dict[str, Any]]:
    """Rebuild each indexed field: timed and counted, then (if ``trace(field)``) again,
    traced."""
    database = model._meta.database
    rows = []
    for field in indexed_fields(model):
        rss_before = max_rss_mib()
        with RoundTrips(database) as trips, timed() as timer:
            read = field.rebuild_indexes(chunk_size)
        rss_growth = max_rss_mib() - rss_before
        expected = size * len(field.indexes)
        require(read == expected, f"{field!r}: rebuild read {read} instances, not {expected}")
        entries = index_entries(field)
        require(entries == expected, f"{field!r}: {entries} index entries, not {expected}")
        peak = traced_seconds = None
        if trace(field):
            with timed() as traced_timer:
                _, peak = traced_peak(lambda field=field: field.rebuild_indexes(chunk_size))
            traced_seconds = traced_timer.seconds
        rows.append(
            {
                "model": model.__name__,
                "field": field.name,
                "index": "+".join(type(index).__name__ for index in field.indexes),
                "unique": field.unique,
                "instances": size,
                "chunk_size": chunk_size,
                "rebuild_seconds": timer.seconds,
                "instances_per_second": size / timer.seconds if timer.seconds else 0.0,
                "rebuild_round_trips": trips.round_trips,
                "rebuild_commands": trips.commands,
                "traced_rebuild_seconds": traced_seconds,
                "tracemalloc_peak_mib": peak,
                "maxrss_growth_mib": rss_growth,
            }
        )
    return rows


def expected_filters(size: int, pk_of: Callable[[int], str]) -> list[tuple[dict, set[str]]]:
    """A few filters and the pks they must return, computed from :func:`values_of`."""
    ns = range(1, size + 1)
    return [
        ({"name": "name-007"}, {pk_of(n) for n in ns if n % 1000 == 7}),
        ({"name__in": ["name-001", "name-999"]}, {pk_of(n) for n in ns if n % 1000 in (1, 999)}),
        ({"city__startswith": "city-01"}, {pk_of(n) for n in ns if 10 <= n % 500 <= 19}),
        ({"city__gte": "city-490"}, {pk_of(n) for n in ns if n % 500 >= 490}),
        ({"email": "user42@example.com"}, {pk_of(42)}),
        ({"name": "name-042", "city": "city-042"}, {pk_of(n) for n in ns if n % 1000 == 42}),
    ]


def measure_checks(
    model: type, pk_of: Callable[[int], str], size: int, chunk_size: int, trace: bool
) -> dict[str, Any]:
    """consistency_check (timed, then if ``trace`` traced), filters, clear_indexes."""
    from django_limpyd.consistency import consistency_check

    database = model._meta.database
    rss_before = max_rss_mib()
    with RoundTrips(database) as trips, timed() as timer:
        problems = consistency_check(model, chunk_size)
    rss_growth = max_rss_mib() - rss_before
    if problems:
        raise AssertionError(
            f"{model.__name__} ({size}): {len(problems)} problems, first: {problems[:5]}"
        )
    check_peak = traced_seconds = None
    if trace:
        with timed() as traced_timer:
            _, check_peak = traced_peak(lambda: consistency_check(model, chunk_size))
        traced_seconds = traced_timer.seconds

    with timed() as filter_timer:
        for filters, expected in expected_filters(size, pk_of):
            found = set(model.collection(**filters))
            if found != expected:
                raise AssertionError(
                    f"{model.__name__}.collection(**{filters!r}): {len(found)} pks, "
                    f"expected {len(expected)} (missing {sorted(expected - found)[:5]}, "
                    f"extra {sorted(found - expected)[:5]})"
                )
            count = len(model.collection(**filters))
            require(count == len(expected), f"len(collection(**{filters!r})) is {count}")

    clears = {}
    for field in indexed_fields(model):
        with RoundTrips(database) as clear_trips, timed() as clear_timer:
            deleted = field.clear_indexes(chunk_size)
        left = index_entries(field)
        require(left == 0, f"{field!r}: {left} index entries left after clear_indexes")
        clears[field.name] = {
            "seconds": clear_timer.seconds,
            "keys_deleted": deleted,
            "round_trips": clear_trips.round_trips,
        }
    return {
        "model": model.__name__,
        "instances": size,
        "consistency_check_seconds": timer.seconds,
        "consistency_check_round_trips": trips.round_trips,
        "consistency_check_commands": trips.commands,
        "consistency_check_maxrss_growth_mib": rss_growth,
        "consistency_check_peak_mib": check_peak,
        "traced_consistency_check_seconds": traced_seconds,
        "filters_checked": len(expected_filters(size, pk_of)),
        "filters_seconds": filter_timer.seconds,
        "clear": clears,
    }


# -- the run ------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def run(
    sizes: list[int],
    chunk_size: int,
    trace: str,
    trace_check: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every measure, for every size and model (see the module docstring)."""
    from django_limpyd.database import RedisDatabase

    models = build_models()

    def traced(model: type, field: Any) -> bool:
        if trace in ("none", "field", "model"):
            if trace == "none" or model is not models[0][0]:
                return False
            return trace == "model" or field.unique
        return True

    with timed() as total, private_server() as server:
        machine = machine_description(server)
        log(f"machine: {machine_line(machine)}")
        databases = {
            size: RedisDatabase(**server.connection_kwargs(), db=i, socket_timeout=300)
            for i, size in enumerate(sizes, start=1)
        }
        fills, rebuilds, checks = [], [], []
        try:
            for size in sizes:
                for model, pk_of in models:
                    model.use_database(databases[size])
                    check_layout(model, pk_of)
                    with timed() as timer:
                        raw_fill(model, pk_of, 1, size)
                    log(f"filled {size:,} {model.__name__} in {timer.seconds:.2f}s")
                    fills.append(
                        {"model": model.__name__, "instances": size, "seconds": timer.seconds}
                    )

            for size in sizes:
                for model, _ in models:
                    model.use_database(databases[size])
                    trace_field = partial(traced, model)
                    for row in measure_rebuilds(model, size, chunk_size, trace_field):
                        log(
                            f"rebuilt {row['model']}.{row['field']} ({size:,}) in "
                            f"{row['rebuild_seconds']:.2f}s (traced: "
                            f"{_seconds(row['traced_rebuild_seconds'])})"
                        )
                        rebuilds.append(row)

            for size in sizes:
                for model, pk_of in models:
                    model.use_database(databases[size])
                    result = measure_checks(model, pk_of, size, chunk_size, trace_check)
                    log(
                        f"checked {model.__name__} ({size:,}) in "
                        f"{result['consistency_check_seconds']:.2f}s (traced: "
                        f"{_seconds(result['traced_consistency_check_seconds'])})"
                    )
                    checks.append(result)
            client = server.client()
            used = client.info("memory")["used_memory"]
            client.close()
        finally:
            for database in databases.values():
                database.close()
    return {
        "benchmark": "rebuild_indexes",
        "machine": machine,
        "sizes": sizes,
        "chunk_size": chunk_size,
        "fill_batch": FILL_BATCH,
        "trace": trace,
        "trace_check": trace_check,
        "fills": fills,
        "rebuilds": rebuilds,
        "checks": checks,
        "redis_used_memory_at_end": used,
        "total_seconds": total.seconds,
    }


def _ratio(large: float | None, small: float | None) -> float | None:
    return None if large is None or not small else large / small


def report(result: dict[str, Any]) -> str:
    """The printed tables."""
    checks = {(c["model"], c["instances"]): c for c in result["checks"]}
    rows = []
    for row in result["rebuilds"]:
        check = checks[(row["model"], row["instances"])]
        rows.append(
            [
                f"{row['model']}.{row['field']}",
                row["index"] + (" (unique)" if row["unique"] else ""),
                row["instances"],
                row["rebuild_seconds"],
                round(row["instances_per_second"]),
                row["rebuild_round_trips"],
                row["tracemalloc_peak_mib"],
                row["maxrss_growth_mib"],
                check["clear"][row["field"]]["seconds"],
                check["consistency_check_seconds"],
            ]
        )
    rebuild_table = format_table(
        [
            "field",
            "index",
            "instances",
            "rebuild s",
            "inst/s",
            "round trips",
            "tracemalloc peak MiB",
            "maxrss +MiB",
            "clear s",
            "check s (model)",
        ],
        rows,
    )
    check_rows = [
        [
            c["model"],
            c["instances"],
            c["consistency_check_seconds"],
            round(c["instances"] / c["consistency_check_seconds"]),
            c["consistency_check_round_trips"],
            c["consistency_check_peak_mib"],
            c["consistency_check_maxrss_growth_mib"],
            f"{c['filters_checked']} ok",
        ]
        for c in result["checks"]
    ]
    check_table = format_table(
        [
            "model",
            "instances",
            "check s",
            "inst/s",
            "round trips",
            "tracemalloc peak MiB",
            "maxrss +MiB",
            "filters",
        ],
        check_rows,
    )
    lines = [
        f"machine: {machine_line(result['machine'])}",
        f"chunk size {result['chunk_size']}, sizes {result['sizes']}, fill batches of "
        f"{result['fill_batch']}, traced: {result['trace']}, "
        f"total {result['total_seconds']:.0f}s",
        "",
        "rebuild_indexes / clear_indexes per field (check s: consistency_check of the model)",
        rebuild_table,
        "",
        "consistency_check(Model) == [] after the rebuilds",
        check_table,
    ]
    sizes = result["sizes"]
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        by_key = {(r["model"], r["field"], r["instances"]): r for r in result["rebuilds"]}
        compare = []
        for (model, field, size), row in by_key.items():
            if size != large:
                continue
            low = by_key[(model, field, small)]
            compare.append(
                [
                    f"{model}.{field} rebuild",
                    low["tracemalloc_peak_mib"],
                    row["tracemalloc_peak_mib"],
                    _ratio(row["tracemalloc_peak_mib"], low["tracemalloc_peak_mib"]),
                    low["rebuild_seconds"],
                    row["rebuild_seconds"],
                    _ratio(row["rebuild_seconds"], low["rebuild_seconds"]),
                ]
            )
        for high in result["checks"]:
            if high["instances"] != large:
                continue
            low = checks[(high["model"], small)]
            compare.append(
                [
                    f"consistency_check({high['model']})",
                    low["consistency_check_peak_mib"],
                    high["consistency_check_peak_mib"],
                    _ratio(high["consistency_check_peak_mib"], low["consistency_check_peak_mib"]),
                    low["consistency_check_seconds"],
                    high["consistency_check_seconds"],
                    _ratio(high["consistency_check_seconds"], low["consistency_check_seconds"]),
                ]
            )
        lines += [
            "",
            f"{large:,} vs {small:,} instances (x{large / small:g} data): tracemalloc peak "
            "and time",
            format_table(
                [
                    "what",
                    f"peak MiB {small:,}",
                    f"peak MiB {large:,}",
                    "peak ratio",
                    f"s {small:,}",
                    f"s {large:,}",
                    "time ratio",
                ],
                compare,
            ),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rebuild_indexes",
        description="Time and memory of index rebuilds, clears and consistency checks.",
    )
    parser.add_argument("--instances", type=int, default=100_000, help="instances (100000)")
    parser.add_argument(
        "--also",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="also run with N instances, to compare peak memory (repeatable)",
    )
    parser.add_argument("--chunk-size", type=int, default=1000, help="chunk size (1000)")
    parser.add_argument(
        "--trace",
        choices=("field", "model", "all", "none"),
        default="field",
        help="rebuilds run a second time under tracemalloc (about 6x slower): the unique "
        "field of the first model (default), every field of the first model, all, none",
    )
    parser.add_argument(
        "--trace-check",
        action="store_true",
        help="also run consistency_check under tracemalloc (slow)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    sizes = sorted({args.instances, *args.also})
    if sizes[0] < 1000 or args.chunk_size < 1:
        parser.error("sizes must be at least 1000 and the chunk size at least 1")

    configure_django()

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    result = run(sizes, args.chunk_size, args.trace, args.trace_check, log)
    print(report(result))
    if args.json:
        write_json(args.json, result)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
