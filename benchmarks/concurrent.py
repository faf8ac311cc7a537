"""W7: processes updating the same indexed fields at once.

Worker processes (``spawn``: each imports this module afresh) connect to the
private server, load the scripts, then run jobs: ``count`` random updates of
``email`` (unique: values from a pool half the size of the data, so conflicts
happen), ``city`` or ``age`` of random instances among ``1..n``, either
through django_limpyd (``Person.lazy_connect(pk).<field>.hset(value)``) or
through the reference script. Every worker of a run starts at the same wall
clock instant; the throughput of a run is its operations over the time from
that instant to the end of the last worker.

A conflict (``UniquenessError`` / the reference's ``UNIQUE`` error) counts as
an operation: the script ran, checked and refused.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Workers", "run_w7"]

SPAWN = multiprocessing.get_context("spawn")
FIELDS = ("email", "city", "age")


def _sleep_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def update_job(
    side: str, n: int, count: int, seed: int, start_at: float, person_model: type, ref: Any
) -> dict[str, Any]:
    """``count`` random updates; the counts and when it ended (wall clock)."""
    from redis.exceptions import ResponseError

    from benchmarks import person
    from django_limpyd.exceptions import UniquenessError

    rng = random.Random(seed)
    pool = max(n // 2, 1)
    plan = []
    for _ in range(count):
        pk = str(rng.randint(1, n))
        field = rng.choice(FIELDS)
        if field == "email":
            value = f"pool{rng.randrange(pool)}@example.org"
        elif field == "city":
            value = rng.choice(person.CITIES)
        else:
            value = str(rng.randint(18, 80))
        plan.append((pk, field, value))
    conflicts = 0
    _sleep_until(start_at)
    started, cpu = time.perf_counter(), time.process_time()
    if side == "ours":
        for pk, field, value in plan:
            try:
                getattr(person_model.lazy_connect(pk), field).hset(value)
            except UniquenessError:
                conflicts += 1
    else:
        for pk, field, value in plan:
            try:
                ref.update(pk, field, value)
            except ResponseError as error:
                if not str(error).startswith("UNIQUE"):
                    raise
                conflicts += 1
    return {
        "ops": count,
        "conflicts": conflicts,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "end": time.time(),
    }


def worker_main(
    connection_kwargs: dict[str, Any], dbs: tuple[int, int], tasks: Any, results: Any, index: int
) -> None:
    """Process target: set up, then run ``(side, n, count, seed, start_at)`` tasks."""
    try:
        import redis

        from benchmarks import person
        from benchmarks.reference import Reference

        ref_db, ours_db = dbs
        model = person.person_model()
        database = person.database()
        database.connect(**connection_kwargs, db=ours_db)
        database.load_scripts()
        client = redis.Redis(**connection_kwargs, db=ref_db, decode_responses=True)
        client.ping()
        ref = Reference(client)
    except BaseException:
        results.put((index, False, traceback.format_exc()))
        return
    results.put((index, True, os.getpid()))
    while True:
        task = tasks.get()
        if task is None:
            break
        try:
            results.put((index, True, update_job(*task, model, ref)))
        except BaseException:
            results.put((index, False, traceback.format_exc()))
    client.close()
    database.close()


class Workers:
    """A few spawned worker processes, each with its own task queue."""

    def __init__(self, count: int, connection_kwargs: dict[str, Any], dbs: tuple[int, int]):
        self.results = SPAWN.Queue()
        self.queues = [SPAWN.Queue() for _ in range(count)]
        self.processes = [
            SPAWN.Process(
                target=worker_main,
                args=(connection_kwargs, dbs, queue, self.results, index),
                daemon=True,
            )
            for index, queue in enumerate(self.queues)
        ]
        for process in self.processes:
            process.start()
        self._collect(range(count), timeout=120)

    def _collect(self, indexes: range, timeout: float) -> list[Any]:
        answers: dict[int, Any] = {}
        deadline = time.time() + timeout
        while len(answers) < len(indexes):
            index, ok, payload = self.results.get(timeout=max(deadline - time.time(), 0.1))
            if not ok:
                raise RuntimeError(f"W7 worker {index} failed:\n{payload}")
            answers[index] = payload
        return [answers[i] for i in indexes]

    def run(self, side: str, n: int, count: int, processes: int, seed: int) -> dict[str, Any]:
        """``processes`` workers run ``count`` updates each, starting together."""
        start_at = time.time() + 0.5
        for index in range(processes):
            self.queues[index].put((side, n, count, seed + index, start_at))
        answers = self._collect(range(processes), timeout=600)
        wall = max(answer["end"] for answer in answers) - start_at
        ops = sum(answer["ops"] for answer in answers)
        return {
            "side": side,
            "processes": processes,
            "ops": ops,
            "conflicts": sum(answer["conflicts"] for answer in answers),
            "client_cpu_seconds": sum(answer["cpu_seconds"] for answer in answers),
            "wall_seconds": wall,
            "ops_per_s": ops / wall,
        }

    def stop(self) -> None:
        for queue in self.queues:
            queue.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():  # only our own worker, by its object
                process.terminate()
                process.join(timeout=10)


@contextmanager
def workers(
    count: int, connection_kwargs: dict[str, Any], dbs: tuple[int, int]
) -> Iterator[Workers]:
    pool = Workers(count, connection_kwargs, dbs)
    try:
        yield pool
    finally:
        pool.stop()


def run_w7(
    bench: Any, processes: int, count: int, rounds: int, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """W7 on the data ``bench`` holds, ``rounds`` times: each side with 1 process, then
    with ``processes`` at once (the order reversed every other round, so that both see
    the same machine load); then both consistency checks.

    Throughputs are summed over the rounds: ops / wall time of the runs. The ratio
    is the reference's throughput with ``processes`` divided by ours; the scaling
    (``processes`` against 1, each side) is reported as well, for information.
    """
    from benchmarks.bench import OURS_DB, REF_DB

    bench.ensure_data()
    n = bench.n
    totals = {
        (side, procs): {
            "ops": 0,
            "wall_seconds": 0.0,
            "conflicts": 0,
            "server_cpu": 0.0,
            "client_cpu_seconds": 0.0,
        }
        for side in ("ref", "ours")
        for procs in (1, processes)
    }
    with workers(processes, bench.connection_kwargs, (REF_DB, OURS_DB)) as pool:
        for side in ("ref", "ours"):  # warm-up: every worker, a few updates
            pool.run(side, n, 50, processes, seed=1)
        for round_ in range(rounds):
            order = [(side, procs) for procs in (1, processes) for side in ("ref", "ours")]
            for side, procs in order[::-1] if round_ % 2 else order:
                cpu = bench._server_cpu()
                run = pool.run(side, n, count, procs, seed=1000 * round_ + 10 * procs)
                total = totals[(side, procs)]
                total["server_cpu"] += bench._server_cpu() - cpu
                for key in ("ops", "wall_seconds", "conflicts", "client_cpu_seconds"):
                    total[key] += run[key]
                log(
                    f"W7 round {round_ + 1}, {side}, {procs} process(es): {run['ops']:,} "
                    f"updates in {run['wall_seconds']:.2f}s ({run['ops_per_s']:,.0f}/s, "
                    f"{run['conflicts']} conflicts; client CPU "
                    f"{run['client_cpu_seconds'] / run['ops'] * 1e6:.0f} us/update, server CPU "
                    f"{(bench._server_cpu() - cpu) / run['ops'] * 1e6:.0f} us/update)"
                )
    checks = bench.check_consistency("after W7")
    for total in totals.values():
        total["ops_per_s"] = total["ops"] / total["wall_seconds"]
        total["server_us_per_op"] = total["server_cpu"] / total["ops"] * 1e6
        total["client_us_per_op"] = total["client_cpu_seconds"] / total["ops"] * 1e6
    ref, ours = totals[("ref", processes)], totals[("ours", processes)]
    ref_scaling = ref["ops_per_s"] / totals[("ref", 1)]["ops_per_s"]
    ours_scaling = ours["ops_per_s"] / totals[("ours", 1)]["ops_per_s"]
    return [
        {
            "id": "W7",
            "workload": f"W7 {processes} processes updating indexed fields",
            "ops": ours["ops"],
            "ref_seconds": ref["wall_seconds"],
            "ours_seconds": ours["wall_seconds"],
            "ref_ops_per_s": ref["ops_per_s"],
            "ours_ops_per_s": ours["ops_per_s"],
            "ratio": ref["ops_per_s"] / ours["ops_per_s"],
            "ref_server_us_per_op": ref["server_us_per_op"],
            "ours_server_us_per_op": ours["server_us_per_op"],
            "scaling": ours_scaling,
            "ref_scaling": ref_scaling,
            "rounds": rounds,
            "runs": {f"{side}/{procs}": total for (side, procs), total in totals.items()},
            **checks,
            "note": (
                f"{processes} processes / 1 process throughput (informative): ours "
                f"{ours_scaling:.2f} "
                f"({totals[('ours', 1)]['ops_per_s']:,.0f}/s alone), reference "
                f"{ref_scaling:.2f} ({totals[('ref', 1)]['ops_per_s']:,.0f}/s alone); "
                f"indexes exact on both sides"
            ),
        }
    ]
