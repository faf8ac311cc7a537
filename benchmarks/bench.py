"""How the suite measures: both sides on one server, counted, then timed side by side.

:class:`Bench` holds both sides on one private server: the reference in Redis
database :data:`REF_DB` (plain ``redis.Redis``, ``decode_responses=True``),
django_limpyd in :data:`OURS_DB` (``Person`` on a ``PipelineDatabase``).

Every comparison (:meth:`Bench.compare`) runs the same items on both sides:

1. a *counted warm-up* on separate items: commands and round trips on the
   client side (``count_commands`` for ours; an observer on a counting
   ``LimpydRedis`` client for the reference), and commands executed by the
   server, those called by scripts included (``INFO commandstats`` after
   ``CONFIG RESETSTAT``); the results of both sides are compared;
2. the *timed run*: the items in blocks, the two sides alternating block by
   block (and which goes first), so that both see the same machine load.
   Nothing is counted or observed while timing; the CPU time of the
   server's main thread (``INFO cpu``) is read between blocks, untimed.

The workloads themselves are in :mod:`benchmarks.workloads_write` and
:mod:`benchmarks.workloads_read`, W7 in :mod:`benchmarks.concurrent`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from benchmarks import person
from benchmarks.common import batches
from benchmarks.reference import Reference, reference_problems

__all__ = [
    "BATCH",
    "OURS_DB",
    "REF_DB",
    "Bench",
    "Counts",
    "combine",
    "make_row",
    "require",
    "same",
    "same_sets",
]

REF_DB = 1
OURS_DB = 2
#: creates per pipeline in W1p, M and the untimed fills
BATCH = 1000
#: commands of connection handshakes and of the measurement itself
_NOT_COUNTED = (
    "cmdstat_info",
    "cmdstat_config",
    "cmdstat_client",
    "cmdstat_hello",
    "cmdstat_ping",
    "cmdstat_select",
)


@dataclass
class Counts:
    """Per operation: client commands, round trips, commands the server executed."""

    commands: float
    round_trips: float
    server: float


class Bench:
    """Both sides of the benchmark on one private server."""

    def __init__(self, server: Any, n: int, log: Callable[[str], None]) -> None:
        from django_limpyd.client import LimpydRedis

        self.n = n
        self.log = log
        kwargs = server.connection_kwargs()
        self.connection_kwargs = kwargs
        self.admin = server.client()
        self.ref_client = redis.Redis(**kwargs, db=REF_DB, decode_responses=True)
        self.ref = Reference(self.ref_client)
        # counting only (never timed): a redis.Redis subclass reporting each round trip
        self.count_client = LimpydRedis(**kwargs, db=REF_DB, decode_responses=True)
        self.counted_ref = Reference(self.count_client)
        self.Person = person.person_model()
        self.db = person.database()
        self.db.connect(**kwargs, db=OURS_DB)
        self.have_data = False
        self.ref.load_scripts()
        self.db.load_scripts()
        for client in (self.ref_client, self.count_client, self.db.connection):
            client.ping()

    def close(self) -> None:
        for client in (self.ref_client, self.count_client, self.admin):
            client.close()
        self.db.close()

    # -- measuring --------------------------------------------------------------------

    def _server_calls(self) -> int:
        stats = self.admin.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if not k.startswith(_NOT_COUNTED))

    def _server_cpu(self) -> float:
        """CPU seconds the server's main thread used so far (INFO cpu, untimed)."""
        stats = self.admin.info("cpu")
        return stats["used_cpu_user_main_thread"] + stats["used_cpu_sys_main_thread"]

    def count_ref(self, run: Callable[[Reference], Any], ops: int) -> tuple[Any, Counts]:
        """Run ``run(reference)`` once on the counting client."""
        from django_limpyd.test.commands import CommandRecorder

        recorder = CommandRecorder(None)
        self.count_client.add_observer(recorder)
        self.admin.config_resetstat()
        try:
            result = run(self.counted_ref)
        finally:
            self.count_client.remove_observer(recorder)
        server = self._server_calls()
        return result, Counts(
            recorder.num_commands / ops, recorder.num_round_trips / ops, server / ops
        )

    def count_ours(self, run: Callable[[], Any], ops: int) -> tuple[Any, Counts]:
        """Run ``run()`` once under ``count_commands``."""
        from django_limpyd.test.commands import count_commands

        self.admin.config_resetstat()
        with count_commands(self.db) as recorder:
            result = run()
        server = self._server_calls()
        return result, Counts(
            recorder.num_commands / ops, recorder.num_round_trips / ops, server / ops
        )

    def compare(
        self,
        wid: str,
        label: str,
        items: Sequence[Any],
        ref_run: Callable[[Reference, Sequence[Any]], Any],
        ours_run: Callable[[Sequence[Any]], Any],
        *,
        warm: Sequence[Any],
        block: int = 100,
        ops_of: Callable[[Sequence[Any]], int] = len,
        check: Callable[[Any, Any], None] | None = None,
        after_warm: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Counted warm-up on ``warm``, then ``items`` timed, both sides alternating."""
        warm_ops = ops_of(warm)
        ref_result, ref_counts = self.count_ref(lambda ref: ref_run(ref, warm), warm_ops)
        ours_result, ours_counts = self.count_ours(lambda: ours_run(warm), warm_ops)
        if check is not None:
            check(ref_result, ours_result)
        if after_warm is not None:
            after_warm()
        times, cpu = [0.0, 0.0], [0.0, 0.0]
        gc.collect()
        for k, part in enumerate(batches(items, block)):
            for side in (0, 1) if k % 2 == 0 else (1, 0):
                cpu_before = self._server_cpu()
                start = time.perf_counter()
                if side == 0:
                    ref_run(self.ref, part)
                else:
                    ours_run(part)
                times[side] += time.perf_counter() - start
                cpu[side] += self._server_cpu() - cpu_before
        ops = ops_of(items)
        row = make_row(wid, label, ops, times[0], times[1], ref_counts, ours_counts)
        row["ref_server_us_per_op"] = cpu[0] / ops * 1e6
        row["ours_server_us_per_op"] = cpu[1] / ops * 1e6
        self.log(
            f"{label}: {ops:,} ops, reference {times[0]:.2f}s, ours {times[1]:.2f}s, "
            f"ratio {row['ratio']:.2f}"
        )
        return row

    # -- data -------------------------------------------------------------------------

    def flush(self) -> None:
        """Empty both databases (the scripts stay loaded)."""
        self.ref_client.flushdb()
        self.db.connection.flushdb()
        self.have_data = False

    def fill_ref(self, numbers: range) -> None:
        for batch in batches((person.values_of(n) for n in numbers), BATCH):
            require_no_error(self.ref.create_many(batch))

    def fill_ours(self, numbers: range) -> None:
        for batch in batches((person.values_of(n) for n in numbers), BATCH):
            self.Person.bulk_create(batch)

    def ensure_data(self) -> None:
        """N instances on both sides (pks 1..N, same values), made untimed if needed."""
        if self.have_data:
            return
        self.flush()
        self.log(f"filling {self.n:,} instances on both sides (untimed)")
        self.fill_ref(range(1, self.n + 1))
        self.fill_ours(range(1, self.n + 1))
        self.have_data = True

    def check_same_pks(self) -> None:
        ref_pks = self.ref_client.smembers("person:pks")
        ours_pks = set(self.db.connection.zrange(self.Person._meta.keys.pks, 0, -1))
        require(ref_pks == ours_pks, f"pks differ: {len(ref_pks)} reference, {len(ours_pks)} ours")

    def check_consistency(self, when: str) -> dict[str, int]:
        """``consistency_check(Person)`` and the reference hand check: both empty."""
        from django_limpyd.consistency import consistency_check

        ours = consistency_check(self.Person)
        ref = reference_problems(self.ref_client)
        require(not ours, f"{when}: django_limpyd indexes differ from data: {ours[:5]}")
        require(not ref, f"{when}: reference indexes differ from data: {ref[:5]}")
        return {"ours_problems": len(ours), "reference_problems": len(ref)}


# -- rows --------------------------------------------------------------------------------


def make_row(
    wid: str, label: str, ops: int, ref_s: float, ours_s: float, ref: Counts, ours: Counts
) -> dict[str, Any]:
    return {
        "id": wid,
        "workload": label,
        "ops": ops,
        "ref_seconds": ref_s,
        "ours_seconds": ours_s,
        "ref_ops_per_s": ops / ref_s,
        "ours_ops_per_s": ops / ours_s,
        "ratio": ours_s / ref_s,
        "ref_commands_per_op": ref.commands,
        "ours_commands_per_op": ours.commands,
        "ref_round_trips_per_op": ref.round_trips,
        "ours_round_trips_per_op": ours.round_trips,
        "ref_server_commands_per_op": ref.server,
        "ours_server_commands_per_op": ours.server,
    }


def combine(wid: str, label: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for several: total time, total ops, per-op counts weighted by ops."""
    ops = sum(row["ops"] for row in rows)

    def per_op(key: str) -> float:
        return sum(row[key] * row["ops"] for row in rows) / ops

    ref = Counts(
        *(per_op(f"ref_{k}_per_op") for k in ("commands", "round_trips", "server_commands"))
    )
    ours = Counts(
        *(per_op(f"ours_{k}_per_op") for k in ("commands", "round_trips", "server_commands"))
    )
    ref_s = sum(row["ref_seconds"] for row in rows)
    ours_s = sum(row["ours_seconds"] for row in rows)
    row = make_row(wid, label, ops, ref_s, ours_s, ref, ours)
    for side in ("ref", "ours"):
        row[f"{side}_server_us_per_op"] = per_op(f"{side}_server_us_per_op")
    row["total"] = True
    return row


# -- checks ------------------------------------------------------------------------------


def require(condition: bool, message: str) -> None:
    """Stop the benchmark with ``message`` unless ``condition`` (kept under ``-O``)."""
    if not condition:
        raise AssertionError(message)


def require_no_error(results: list[Any]) -> None:
    errors = [result for result in results if isinstance(result, Exception)]
    require(not errors, f"{len(errors)} reference creates failed: {errors[:3]}")


def same(ref: Any, ours: Any) -> None:
    """Both sides returned the same results (the warm-up's)."""
    require(ref == ours, f"results differ:\n  reference {ref!r:.300}\n  ours      {ours!r:.300}")


def same_sets(ref: list[Any], ours: list[Any]) -> None:
    """Same results, each compared as a set when it is a list of pks."""

    def normal(results: list[Any]) -> list[Any]:
        return [sorted(r) if isinstance(r, list) else r for r in results]

    same(normal(ref), normal(ours))
