"""The benchmark suite: django_limpyd against hand-written redis-py, side by side.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.suite [--instances 10000] [--json PATH]
                                         [--only W1,W2,...] [--queries Q]
                                         [--w7-updates U] [--processes 4]
                                         [--rounds 3] [--quiet]

It starts its own ``redis-server`` (unix socket in a temporary directory, no
persistence; stopped at the end, even on error), then runs the workloads of
``QUALITY.md`` ("Speed") on a ``Person`` model (six fields: ``email``
unique, ``city`` with an equal and a text range index, ``age`` with a number
range index, and three plain hash entries; see :mod:`benchmarks.person`):

* W1: create N instances one by one; W1p: the same in pipelines of 1000;
* W2: filters (equality, ``__in``, range, ``startswith``) and ``len()`` of each;
* W3: a filtered page of 50 sorted by name, with ``values()``;
* W4: one instance's fields (``hgetall``, ``hmget``);
* W5: updates of an indexed field (unique ``email``, ``city``, ``age``);
* W6: delete N instances one by one;
* W7: 4 processes updating the same indexed fields: throughput against one
  process, and indexes exactly matching the data afterwards (both sides);
* M: ``used_memory`` per instance after creating N (after a flush).

Each workload runs against a hand-written reference (:mod:`benchmarks.reference`:
one minimal Lua script per write, the single ideal command per read) and
against django_limpyd's public API, in the same run, on the same data, with the
same number of operations (see :mod:`benchmarks.bench` for how it is
measured). It prints the machine line and one table: reference and our
operations per second, the ratio (our time per operation / the reference's),
the target of ``QUALITY.md`` and whether it is met, client commands and round
trips per operation, commands the server executed per operation (those run by
scripts included) and its CPU time per operation, and Redis memory per
instance (M). ``--json PATH`` writes the same data (and per-run details).
``--only`` runs some workloads (data they need is created untimed).
``--queries`` sets the W2 queries and W3 pages (default N/10), ``--w7-updates``
the W7 updates per process and round (N/8). The whole run takes about three
minutes with the defaults on a 2-core machine. Results and their analysis:
``docs/performance.rst``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from benchmarks.common import (
    format_table,
    machine_description,
    machine_line,
    private_server,
    timed,
    write_json,
)

ORDER = ("W1", "W2", "W3", "W4", "W5", "W6", "W1p", "M", "W7")

#: workload -> (max ratio, max round trips per op or None, text); W7: min scaling
TARGETS: dict[str, tuple[float, float | None, str]] = {
    "W1": (1.5, None, "<=1.5x"),
    "W1p": (2.0, None, "<=2x"),
    "W2": (1.3, 1, "<=1.3x, 1 RT"),
    "W3": (1.5, 1, "<=1.5x, 1 RT"),
    "W4": (1.2, 1, "<=1.2x, 1 RT"),
    "W5": (1.5, 1, "<=1.5x, 1 RT"),
    "W6": (1.5, None, "<=1.5x"),
    "W7": (0.7, None, ">=0.7x 1 proc, exact"),
    "M": (1.2, None, "<=1.2x"),
}

HEADERS = [
    "workload",
    "ref ops/s",
    "ours ops/s",
    "ratio",
    "target",
    "met",
    "cmd/op ref",
    "cmd/op ours",
    "RT/op ref",
    "RT/op ours",
    "srv cmd/op ref",
    "srv cmd/op ours",
    "srv us/op ref",
    "srv us/op ours",
    "B/inst ref",
    "B/inst ours",
]


def target_met(row: dict[str, Any]) -> bool:
    """Whether ``row`` meets its workload's target."""
    limit, round_trips, _text = TARGETS[row["id"]]
    if row["id"] == "W7":
        return row["scaling"] >= limit and not row["ours_problems"]
    if row["ratio"] > limit:
        return False
    return round_trips is None or row["ours_round_trips_per_op"] <= round_trips


def run(
    instances: int,
    selected: list[str],
    queries: int,
    w7_ops: int,
    processes: int,
    rounds: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every selected workload on one private server (see the module docstring)."""
    from benchmarks import workloads_read as read
    from benchmarks import workloads_write as write
    from benchmarks.bench import Bench
    from benchmarks.concurrent import run_w7

    rows: list[dict[str, Any]] = []
    load_start = os.getloadavg()
    with timed() as total, private_server() as server:
        machine = machine_description(server)
        log(f"machine: {machine_line(machine)}")
        bench = Bench(server, instances, log)
        steps: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "W1": lambda: write.w1(bench),
            "W2": lambda: read.w2(bench, queries),
            "W3": lambda: read.w3(bench, queries),
            "W4": lambda: read.w4(bench),
            "W5": lambda: write.w5(bench),
            "W6": lambda: write.w6(bench),
            "W1p": lambda: write.w1p(bench),
            "M": lambda: write.memory(bench),
            "W7": lambda: run_w7(bench, processes, w7_ops, rounds, log),
        }
        try:
            for wid in ORDER:
                if wid in selected:
                    with timed() as step:
                        rows += steps[wid]()
                    log(f"{wid} done in {step.seconds:.1f}s")
        finally:
            bench.close()
    for row in rows:
        row["target"] = TARGETS[row["id"]][2]
        row["met"] = target_met(row)
    return {
        "benchmark": "suite",
        "machine": machine,
        "instances": instances,
        "queries": queries,
        "w7_updates_per_process": w7_ops,
        "w7_processes": processes,
        "w7_rounds": rounds,
        "workloads": selected,
        "rows": rows,
        "total_seconds": total.seconds,
        "load_average": {"start": load_start, "end": os.getloadavg()},
    }


def _r(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def report(result: dict[str, Any]) -> str:
    """The machine line, the table and the notes."""
    table = []
    grouped = {row["id"] for row in result["rows"] if row.get("total")}
    for row in result["rows"]:
        label = row["workload"]
        if row["id"] in grouped and not row.get("total"):
            label = "  " + label
        met = "yes" if row["met"] else "NO"
        if row.get("note", "").startswith("connect by pk"):
            met = f"({met.lower()})"
        table.append(
            [
                label,
                row.get("ref_ops_per_s"),
                row.get("ours_ops_per_s"),
                row["ratio"],
                row["target"],
                met,
                *(
                    row.get(f"{side}_{what}")
                    for what in (
                        "commands_per_op",
                        "round_trips_per_op",
                        "server_commands_per_op",
                        "server_us_per_op",
                    )
                    for side in ("ref", "ours")
                ),
                row.get("ref_memory_per_instance"),
                row.get("ours_memory_per_instance"),
            ]
        )
    load = result["load_average"]
    notes = [f"{row['id']}: {row['note']}" for row in result["rows"] if row.get("note")]
    lines = [
        f"machine: {machine_line(result['machine'])}",
        f"N = {result['instances']:,} instances; W2/W3: {result['queries']:,} queries; W7: "
        f"{result['w7_processes']} processes x {result['w7_updates_per_process']:,} updates x "
        f"{result['w7_rounds']} rounds; "
        f"total {result['total_seconds']:.0f}s; load average {load['start'][0]:.1f} at the "
        f"start, {load['end'][0]:.1f} at the end",
        "ratio: our time per op / the reference's (M: our bytes / the reference's; "
        "W7: reference ops/s / ours)",
        "",
        format_table(HEADERS, [[_r(value) for value in line] for line in table]),
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suite",
        description="django_limpyd against hand-written redis-py: W1-W7 and M, as ratios.",
    )
    parser.add_argument("--instances", type=int, default=10_000, help="N (10000)")
    parser.add_argument("--queries", type=int, default=None, help="W2 queries and W3 pages (N/10)")
    parser.add_argument(
        "--w7-updates", type=int, default=None, help="W7 updates per process and round (N/8)"
    )
    parser.add_argument("--processes", type=int, default=4, help="W7 processes (4)")
    parser.add_argument("--rounds", type=int, default=3, help="W7 rounds (3)")
    parser.add_argument(
        "--only",
        default=",".join(ORDER),
        help=f"workloads to run, comma-separated ({','.join(ORDER)})",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    selected = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(selected) - set(ORDER))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose among {', '.join(ORDER)}")
    if args.instances < 500 or args.processes < 2:
        parser.error("--instances must be at least 500 and --processes at least 2")
    queries = args.queries or max(args.instances // 10, 80)
    w7_ops = args.w7_updates or max(args.instances // 8, 100)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    result = run(
        args.instances, selected, queries, w7_ops, args.processes, max(args.rounds, 1), log
    )
    print(report(result))
    if args.json:
        write_json(args.json, result)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
