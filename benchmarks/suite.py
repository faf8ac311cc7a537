"""The benchmark suite: django_limpyd against hand-written redis-py, side by side.

Run from the root of the checkout, with the project's virtualenv::

    .venv/bin/python -m benchmarks.suite [--instances 10000] [--json PATH]
                                         [--only W1,W2,...] [--queries Q]
                                         [--w7-updates U] [--processes 4]
                                         [--rounds 3] [--redis-server PATH]
                                         [--compare BEFORE.json [--after AFTER.json]]
                                         [--quiet]

It starts its own ``redis-server`` (unix socket in a temporary directory, no
persistence; stopped at the end, even on error): ``--redis-server PATH``, else
the ``LIMPYD_REDIS_SERVER`` environment variable, else ``redis-server`` on the
``PATH``. Then it runs the workloads of the issue "Storage engine v2" on a
``Person`` model (six fields: ``email`` unique, ``city`` with an equal and a
text range index, ``age`` with a number range index, and three plain hash
entries; see :mod:`benchmarks.person`):

* W1: create N instances one by one; W1p: the same in pipelines of 1000;
* W2: filters (equality, ``__in``, range, ``startswith``) and ``len()`` of each;
* W3: a filtered page of 50 sorted by name, with ``values()``;
* W4: one instance's fields, its existence checked
  (``Person.lazy_connect(pk).hgetall()`` / ``.hmget(...)``, a new instance
  per operation);
* W4p: the same for 1000 instances in one pipeline (``transaction=False``);
* W5: updates of an indexed field (unique ``email``, ``city``, ``age``);
* W6: delete N instances one by one;
* W7: 4 processes updating the same indexed fields: throughput against the
  reference's, and indexes exactly matching the data afterwards (both sides);
* M: ``used_memory`` per instance after creating N (after a flush).

Each workload runs against a hand-written reference (:mod:`benchmarks.reference`:
one minimal Lua script per write and per existence-checked read, the single
ideal command per other read) and against django_limpyd's public API, in the
same run, on the same data, with the same number of operations (see
:mod:`benchmarks.bench` for how it is measured). It prints the machine line
and one table: reference and our operations per second, the ratio (our time
per operation / the reference's), the target (:mod:`benchmarks.targets`) and
whether it is met, client commands and round trips per operation, commands the
server executed per operation (those run by scripts included) and its CPU
time per operation, and Redis memory per instance (M). ``--json PATH`` writes
the same data (and per-run details); ``--compare BEFORE.json`` then prints a
before/after table against a JSON written earlier (:mod:`benchmarks.compare`;
with ``--after AFTER.json``, of two files, without running anything).
``--only`` runs some workloads (data they need is created untimed).
``--queries`` sets the W2 queries and W3 pages (default N/10), ``--w7-updates``
the W7 updates per process and round (N/8). The whole run takes a few minutes
with the defaults on a 2-core machine. Results and their analysis:
``docs/performance.rst``.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
from benchmarks.compare import compare_report, load_result
from benchmarks.targets import TARGETS, met_text, target_met

ORDER = ("W1", "W2", "W3", "W4", "W4p", "W5", "W6", "W1p", "M", "W7")

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


def run(
    instances: int,
    selected: list[str],
    queries: int,
    w7_ops: int,
    processes: int,
    rounds: int,
    log: Callable[[str], None],
    redis_server: str | None = None,
) -> dict[str, Any]:
    """Every selected workload on one private server (see the module docstring);
    ``redis_server``: the binary to run (default: found as the library does)."""
    from benchmarks import workloads_read as read
    from benchmarks import workloads_write as write
    from benchmarks.bench import Bench
    from benchmarks.concurrent import run_w7

    rows: list[dict[str, Any]] = []
    load_start = os.getloadavg()
    with timed() as total, private_server(binary=redis_server) as server:
        machine = machine_description(server)
        log(f"machine: {machine_line(machine)}")
        bench = Bench(server, instances, log)
        steps: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "W1": lambda: write.w1(bench),
            "W2": lambda: read.w2(bench, queries),
            "W3": lambda: read.w3(bench, queries),
            "W4": lambda: read.w4(bench),
            "W4p": lambda: read.w4p(bench),
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
        row["target"] = TARGETS[row["id"]].text
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
        if row.get("informative") or (row["id"] in grouped and not row.get("total")):
            label = "  " + label
        met = met_text(row, row["met"])
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
        f"redis-server: {result['machine'].get('redis_server_binary', '?')}",
        f"N = {result['instances']:,} instances; W2/W3: {result['queries']:,} queries; W7: "
        f"{result['w7_processes']} processes x {result['w7_updates_per_process']:,} updates x "
        f"{result['w7_rounds']} rounds; "
        f"total {result['total_seconds']:.0f}s; load average {load['start'][0]:.1f} at the "
        f"start, {load['end'][0]:.1f} at the end",
        "ratio: our time per op / the reference's (M: our bytes / the reference's; "
        f"W7: reference ops/s / ours, {result['w7_processes']} processes each); "
        "(yes)/(no): informative rows, outside the totals",
        "",
        format_table(HEADERS, [[_r(value) for value in line] for line in table]),
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suite",
        description="django_limpyd against hand-written redis-py: W1-W7, W4p and M, as ratios.",
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
    parser.add_argument(
        "--redis-server",
        metavar="PATH",
        default=os.environ.get("LIMPYD_REDIS_SERVER") or None,
        help="redis-server binary to run (LIMPYD_REDIS_SERVER, else redis-server on the PATH)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--compare",
        metavar="BEFORE",
        help="then print a before/after table against this JSON (written by --json)",
    )
    parser.add_argument(
        "--after",
        metavar="AFTER",
        help="with --compare: the 'after' results from this JSON, without running",
    )
    parser.add_argument("--quiet", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    before = _load(parser, args.compare) if args.compare else None
    if args.after:
        if before is None:
            parser.error("--after needs --compare")
        print(compare_report(before, _load(parser, args.after)))
        return 0
    binary = None
    if args.redis_server:
        binary = shutil.which(args.redis_server)
        if binary is None:
            parser.error(
                f"--redis-server (or LIMPYD_REDIS_SERVER): {args.redis_server!r} is not "
                "an executable"
            )
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
        args.instances,
        selected,
        queries,
        w7_ops,
        args.processes,
        max(args.rounds, 1),
        log,
        redis_server=binary,
    )
    print(report(result))
    if args.json:
        write_json(args.json, result)
        log(f"wrote {args.json}")
    if before is not None:
        print()
        print(compare_report(before, result))
    return 0


def _load(parser: argparse.ArgumentParser, path: str) -> dict[str, Any]:
    try:
        return load_result(path)
    except (OSError, ValueError) as error:
        parser.error(f"cannot read {path}: {error}")


if __name__ == "__main__":
    sys.exit(main())
