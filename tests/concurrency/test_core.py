"""Consistency under concurrent writers: real processes against one real redis-server.

Worker processes are started with the ``spawn`` method and kept for the whole
module (see ``tests/concurrency/models.py`` for the models and the jobs they
run). Each one connects and loads the scripts once; the jobs of a test then
start at the same instant, one per process, and race. Afterwards the test
process checks the data against every index (``consistency_check``) and checks
index keys directly. ``pytest -s`` shows a one-line summary per test.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.test.server import PrivateRedisServer
from tests.concurrency import models
from tests.concurrency.models import (
    DATABASE,
    Busy,
    Doomed,
    Numbered,
    Transformed,
    UniqueHash,
    UniquePK,
    UniqueString,
)

pytestmark = pytest.mark.slow

ROOT = str(Path(__file__).resolve().parents[2])
SPAWN = multiprocessing.get_context("spawn")
#: the longest the start-up of new worker processes may take
STARTUP_TIMEOUT = 70.0
#: the longest a batch of jobs may take
BATCH_TIMEOUT = 25.0
#: jobs are sent this long before they start, so that all start at once
START_DELAY = 0.3


@pytest.fixture
def connection_kwargs(redis_server: PrivateRedisServer) -> Iterator[dict[str, Any]]:
    """Point the models' database at the private server (the test process side)."""
    kwargs = redis_server.connection_kwargs()
    DATABASE.connect(**kwargs)
    yield kwargs
    DATABASE.close()


class WorkerPool:
    """Spawned worker processes, set up once, each running one job per batch.

    Spawning and setting up a process (Python, Django, redis-py, scripts) costs
    about a second of CPU, so the processes are kept for the whole module and
    started only when a test needs more of them. Every job of a batch goes to a
    different process, and all jobs of a batch start at the same instant.
    """

    def __init__(self, connection_kwargs: dict[str, Any]) -> None:
        self.connection_kwargs = connection_kwargs
        self.results = SPAWN.Queue()
        self.tasks: list[Any] = []
        self.processes: list[Any] = []
        self.batches = 0
        self.broken = self.closed = False

    def ensure(self, size: int) -> None:
        """Have at least ``size`` processes, set up and idle."""
        new = range(len(self.processes), size)
        if not new:
            return
        for index in new:
            tasks = SPAWN.Queue()
            process = SPAWN.Process(
                target=models.worker_loop,
                args=(ROOT, self.connection_kwargs, tasks, self.results, index),
                name=f"concurrency-worker-{index}",
                daemon=True,
            )
            self.tasks.append(tasks)
            self.processes.append(process)
            process.start()
        started = time.perf_counter()
        self._collect("ready", new, STARTUP_TIMEOUT)
        summary("worker start-up", started, new_processes=len(new))

    def _collect(self, batch: Any, indexes: range, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        collected: dict[int, tuple[bool, Any]] = {}
        while len(collected) < len(indexes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(
                    f"{len(collected)}/{len(indexes)} answers for batch {batch!r} after "
                    f"{timeout}s (load average {os.getloadavg()[0]:.1f})"
                )
            try:
                index, answer_batch, ok, payload = self.results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                dead = [p.name for p in self.processes if not p.is_alive()]
                if dead:
                    self._fail(f"processes died during batch {batch!r}: {dead}")
                continue
            if answer_batch == batch and index in indexes:
                collected[index] = (ok, payload)
        failures = [payload for ok, payload in collected.values() if not ok]
        if failures:
            # a failed job may have left its process in any state
            self._fail("failed in a worker process:\n" + "\n".join(failures))
        return [collected[index][1] for index in indexes]

    def _fail(self, message: str) -> None:
        self.broken = True
        pytest.fail(message, pytrace=False)

    def run(self, jobs: list[tuple[str, tuple[Any, ...]]]) -> list[dict[str, Any]]:
        """Run each ``(job, args)`` in its own process, all released at once."""
        self.ensure(len(jobs))
        self.batches += 1
        batch = self.batches
        start_at = time.time() + START_DELAY
        for tasks, (job, args) in zip(self.tasks, jobs, strict=False):
            tasks.put((batch, job, args, start_at))
        return self._collect(batch, range(len(jobs)), BATCH_TIMEOUT)

    def close(self) -> None:
        """Stop every process (politely, then by force), each join bounded."""
        if self.closed:
            return
        self.closed = self.broken = True
        for tasks, process in zip(self.tasks, self.processes, strict=True):
            if process.is_alive():
                tasks.put(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for channel in [self.results, *self.tasks]:
            channel.close()
            channel.cancel_join_thread()


@pytest.fixture(scope="module")
def _pools() -> Iterator[list[WorkerPool]]:
    pools: list[WorkerPool] = []
    yield pools
    for pool in pools:
        pool.close()


@pytest.fixture
def workers(_pools, connection_kwargs) -> WorkerPool:
    """The module's worker processes (new ones after a test left them broken)."""
    if len(_pools) >= 2 and _pools[-1].broken:
        pytest.fail("worker processes broke twice in this module; not starting more")
    if not _pools or _pools[-1].broken:
        if _pools:
            _pools[-1].close()
        _pools.append(WorkerPool(connection_kwargs))
    return _pools[-1]


# -- checking helpers ---------------------------------------------------------------


def connection() -> Any:
    return DATABASE.connection


def all_pks(model: type) -> set[str]:
    return set(connection().zrange(model._meta.keys.pks, 0, -1))


def equal_index_map(model: type, field_name: str) -> dict[str, list[str]]:
    """``{pk: values}``: every value under which the field's first equal index lists a pk."""
    index = model.get_field(field_name).indexes[0]
    assert index.kind == "eq"
    base = index.storage_base
    holding: dict[str, list[str]] = {}
    pattern = model._meta.keys.pattern_after(base)
    for key in connection().scan_iter(match=pattern, count=1000):
        for pk in connection().smembers(key):
            holding.setdefault(pk, []).append(key[len(base) :])
    return {pk: sorted(values) for pk, values in holding.items()}


def orphan_keys(model: type, pks: set[str]) -> list[str]:
    """Keys of the model that are neither bookkeeping, index, nor data of one of ``pks``."""
    meta = model._meta
    keys = meta.keys
    own = {keys.pks, keys.max_pk}
    data_prefixes = [keys.instance_hash_prefix] + [
        keys.field_prefix(field.name)
        for field in meta.data_fields
        if field.storage_type != "hfield"
    ]
    orphans = []
    for key in model.scan_model_keys():
        if key in own or key.startswith(keys.prefix + ":x:"):
            continue
        if not any(key.startswith(p) and key[len(p) :] in pks for p in data_prefixes):
            orphans.append(key)
    return orphans


def summary(name: str, started: float, **numbers: Any) -> None:
    details = ", ".join(f"{key}={value}" for key, value in numbers.items())
    print(f"\n[concurrency] {name}: {details}, time={time.perf_counter() - started:.2f}s")


# -- 1. unique creates --------------------------------------------------------------

UNIQUE_WORKERS = 8
UNIQUE_VALUES = 40
#: seconds between two values: each value is a fresh race between all workers
UNIQUE_STEP = 0.02


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "model", [UniqueString, UniqueHash, UniquePK], ids=lambda model: model.__name__
)
def test_same_unique_value_created_by_8_processes(workers, model):
    """8 processes create the same unique values in the same order: one winner each."""
    started = time.perf_counter()
    values = ["the-one"] + [f"value:{i} *{{x}}" for i in range(UNIQUE_VALUES - 1)]
    jobs = [
        # half create with the constructor (create.lua), half with a first write
        # (write.lua); UniquePK always uses the constructor
        ("create_unique", (model.__name__, values, bool(i % 2), UNIQUE_STEP))
        for i in range(UNIQUE_WORKERS)
    ]
    results = workers.run(jobs)

    winners: dict[str, list[str]] = {value: [] for value in values}
    losers = Counter()
    for result in results:
        for value, pk in result["won"].items():
            winners[value].append(pk)
        for value, message in result["lost"].items():
            losers[value] += 1
            assert "already exists" in message
        assert set(result["won"]) | set(result["lost"]) == set(values)
    assert {value: len(pks) for value, pks in winners.items()} == dict.fromkeys(values, 1)
    assert losers == dict.fromkeys(values, UNIQUE_WORKERS - 1)

    won_pks = {pks[0] for pks in winners.values()}
    assert all_pks(model) == won_pks
    if model is UniquePK:
        assert won_pks == set(values)
        assert not connection().exists(model._meta.keys.max_pk)
    else:
        # the AutoPK counter advanced once per successful create, never for a loser
        assert won_pks == {str(i) for i in range(1, UNIQUE_VALUES + 1)}
        assert connection().get(model._meta.keys.max_pk) == str(UNIQUE_VALUES)
    assert consistency_check(model) == []
    assert orphan_keys(model, won_pks) == []
    for value, (pk,) in winners.items():
        instance = model(pk)
        stored = instance.code.hget() if model is UniqueHash else instance.code.get()
        assert stored == value
        key = model.get_field("code").indexes[0].get_storage_key(value)
        assert connection().smembers(key) == {pk}
    summary(
        f"unique create {model.__name__}",
        started,
        processes=UNIQUE_WORKERS,
        attempts=UNIQUE_WORKERS * UNIQUE_VALUES,
        created=len(won_pks),
        uniqueness_errors=sum(losers.values()),
        wins_per_process=sorted(len(r["won"]) for r in results),
    )


# -- 2. AutoPK ----------------------------------------------------------------------

PK_WORKERS = 4
PK_CREATES = 250


@pytest.mark.timeout(90)
def test_autopk_unique_across_processes(workers):
    """4 processes x 250 creates (constructor and first-write mixed): 1000 distinct pks."""
    started = time.perf_counter()
    jobs = [("create_many", (PK_CREATES, f"w{i}")) for i in range(PK_WORKERS)]
    results = workers.run(jobs)

    pks = [pk for result in results for pk in result["pks"]]
    total = PK_WORKERS * PK_CREATES
    assert len(pks) == total
    assert len(set(pks)) == total, [pk for pk, n in Counter(pks).items() if n > 1][:10]
    assert set(pks) == {str(i) for i in range(1, total + 1)}
    assert all_pks(Numbered) == set(pks)
    assert connection().get(Numbered._meta.keys.max_pk) == str(total)
    for worker, result in enumerate(results):
        for i, pk in enumerate(result["pks"]):
            assert connection().hget(Numbered._meta.keys.instance_hash(pk), "name") == (
                f"w{worker}-{i}"
            )
    assert consistency_check(Numbered) == []
    summary(
        "AutoPK",
        started,
        processes=PK_WORKERS,
        creates=total,
        distinct_pks=len(set(pks)),
        creates_per_s=round(total / max(r["seconds"] for r in results)),
    )


# -- 3. concurrent updates of indexed fields ---------------------------------------

BUSY_INSTANCES = 20
BUSY_WORKERS = 4
BUSY_SECONDS = 2.0
BUSY_CODES = [f"code-{i}" for i in range(28)]


@pytest.mark.timeout(90)
def test_concurrent_updates_keep_indexes_exact(workers):
    """4 processes write random indexed fields of the same 20 instances for ~2 s."""
    started = time.perf_counter()
    pks = [
        Busy(
            color="red",
            score=0,
            code=BUSY_CODES[i],
            hits=0,
            tags=["t0"],
            items=["i0"],
            attrs={"i0": "red"},
        ).pk.get()
        for i in range(BUSY_INSTANCES)
    ]
    jobs = [("update_busy", (pks, BUSY_SECONDS, seed, BUSY_CODES)) for seed in range(BUSY_WORKERS)]
    results = workers.run(jobs)

    assert consistency_check(Busy) == []
    assert all_pks(Busy) == set(pks)
    conn = connection()
    busy_eq = {
        name: equal_index_map(Busy, name) for name in ("color", "code", "tags", "items", "attrs")
    }
    codes = {}
    for pk in pks:
        instance = Busy(pk)
        color, score = instance.hmget("color", "score")
        code = instance.code.get()
        tags = instance.tags.smembers()
        items = set(instance.items.lrange(0, -1))
        hits = instance.hits.get()
        # each value is found under exactly its current value, nowhere else
        assert busy_eq["color"].get(pk, []) == ([color] if color is not None else [])
        assert busy_eq["code"].get(pk, []) == [code]
        assert busy_eq["tags"].get(pk, []) == sorted(tags)
        assert busy_eq["items"].get(pk, []) == sorted(items)
        # one entry per (key, value) pair of the HashField
        assert len(busy_eq["attrs"].get(pk, [])) == instance.attrs.hlen()
        for name, value in (("color", color), ("code", code)):
            if value is not None:
                key = Busy.get_field(name).indexes[0].get_storage_key(value)
                assert conn.sismember(key, pk)
        for value in tags:
            assert conn.sismember(Busy.get_field("tags").indexes[0].get_storage_key(value), pk)
        for value in items:
            assert conn.sismember(Busy.get_field("items").indexes[0].get_storage_key(value), pk)
        hits_index = Busy.get_field("hits").indexes[0].get_storage_key()
        score_index = Busy.get_field("score").indexes[0].get_storage_key()
        assert conn.zscore(hits_index, pk) == float(hits)
        assert conn.zscore(score_index, pk) == float(score)
        codes[pk] = code
    # no unique value held by two instances, in the data or in the index
    assert len(set(codes.values())) == len(codes)
    for code in BUSY_CODES:
        assert conn.scard(Busy.get_field("code").indexes[0].get_storage_key(code)) <= 1
    assert orphan_keys(Busy, set(pks)) == []
    ops = sum(r["ops"] for r in results)
    summary(
        "concurrent updates",
        started,
        processes=BUSY_WORKERS,
        instances=BUSY_INSTANCES,
        writes=ops,
        writes_per_s=round(ops / max(r["seconds"] for r in results)),
        uniqueness_conflicts=sum(r["conflicts"] for r in results),
        spop_on_empty=sum(r["spop_empty"] for r in results),
    )


# -- 4. delete vs update ------------------------------------------------------------

DOOMED_INSTANCES = 120
DELETERS = 2
WRITERS = 3
DOOMED_SECONDS = 2.0


@pytest.mark.timeout(90)
def test_delete_racing_updates_never_resurrects(workers):
    """2 processes delete half the instances while 3 write every instance."""
    started = time.perf_counter()
    pks = [
        Doomed(color="red", score=1, name="n0", tags=["t0", "t1"], items=["i0"]).pk.get()
        for _ in range(DOOMED_INSTANCES)
    ]
    doomed = pks[::2]
    kept = set(pks[1::2])
    # both deleters delete every doomed pk (in different orders): one wins each
    jobs = [("delete_doomed", (doomed, DOOMED_SECONDS * 0.8, seed)) for seed in range(DELETERS)]
    jobs += [("write_doomed", (pks, DOOMED_SECONDS, 100 + seed)) for seed in range(WRITERS)]
    results = workers.run(jobs)
    deleters, writers = results[:DELETERS], results[DELETERS:]

    assert sum(r["deleted"] for r in deleters) == len(doomed)
    assert sum(r["already_gone"] for r in deleters) == len(doomed) * (DELETERS - 1)
    assert all_pks(Doomed) == kept
    doomed_eq = {name: equal_index_map(Doomed, name) for name in ("color", "name", "tags", "items")}
    for pk in doomed:
        assert list(Doomed.lazy_connect(pk).scan_keys()) == [], f"deleted {pk} came back"
        for field_name in ("color", "name", "tags", "items"):
            assert doomed_eq[field_name].get(pk, []) == []
        assert connection().zscore(Doomed.get_field("score").indexes[0].get_storage_key(), pk) is (
            None
        )
    assert orphan_keys(Doomed, kept) == []
    assert consistency_check(Doomed) == []
    written = sum(r["written"] for r in writers)
    missing = sum(r["does_not_exist"] for r in writers)
    assert missing > 0 and written > 0
    summary(
        "delete vs update",
        started,
        deleters=DELETERS,
        writers=WRITERS,
        deleted=len(doomed),
        writes=written,
        does_not_exist=missing,
    )


# -- 5. Python transforms -----------------------------------------------------------

TRANSFORMED_INSTANCES = 20
TRANSFORM_WORKERS = 4
TRANSFORM_SECONDS = 1.5


@pytest.mark.timeout(90)
def test_transform_index_under_concurrent_updates(workers):
    """4 processes write fields indexed by their first letter (a Python transform)."""
    started = time.perf_counter()
    pks = [Transformed(name=f"a{i}", tags=["b0"]).pk.get() for i in range(TRANSFORMED_INSTANCES)]
    jobs = [
        ("update_transformed", (pks, TRANSFORM_SECONDS, seed)) for seed in range(TRANSFORM_WORKERS)
    ]
    results = workers.run(jobs)

    assert sum(r["does_not_exist"] for r in results) == 0
    assert consistency_check(Transformed) == []
    assert all_pks(Transformed) == set(pks)
    conn = connection()
    transformed_eq = {
        name: equal_index_map(Transformed, name) for name in ("name", "initial", "tags")
    }
    initials = {}
    for pk in pks:
        instance = Transformed(pk)
        name = instance.name.get()
        initial = instance.initial.hget()
        tags = instance.tags.smembers()
        assert transformed_eq["name"].get(pk, []) == [name[0]]
        # get_storage_key takes the stored value and applies the transform
        name_index = Transformed.get_field("name").indexes[0]
        assert conn.sismember(name_index.get_storage_key(name), pk)
        assert transformed_eq["tags"].get(pk, []) == sorted({t[0] for t in tags})
        if initial is None:
            assert transformed_eq["initial"].get(pk, []) == []
        else:
            assert transformed_eq["initial"].get(pk, []) == [initial[0]]
            initials[pk] = initial[0]
    # unique through the transform: no first letter held by two instances
    assert len(set(initials.values())) == len(initials)
    ops = sum(r["ops"] for r in results)
    summary(
        "transform index",
        started,
        processes=TRANSFORM_WORKERS,
        writes=ops,
        writes_per_s=round(ops / max(r["seconds"] for r in results)),
        uniqueness_conflicts=sum(r["conflicts"] for r in results),
        transform_retries_exhausted=sum(r["transform_retries_exhausted"] for r in results),
        instances_with_initial=len(initials),
    )


TRANSFORM_DELETED = 10


@pytest.mark.timeout(90)
def test_transform_index_delete_racing_updates(workers):
    """delete.lua asks Python for transforms (NEED) while 3 processes change the values."""
    started = time.perf_counter()
    pks = [Transformed(name=f"a{i}", tags=["b0", "c0"]).pk.get() for i in range(20)]
    doomed, kept = pks[:TRANSFORM_DELETED], set(pks[TRANSFORM_DELETED:])
    jobs = [("delete_transformed", (doomed, TRANSFORM_SECONDS * 0.8))]
    jobs += [("update_transformed", (pks, TRANSFORM_SECONDS, 10 + seed)) for seed in range(3)]
    results = workers.run(jobs)
    deleter, updaters = results[0], results[1:]

    assert deleter["deleted"] == TRANSFORM_DELETED
    assert all_pks(Transformed) == kept
    assert consistency_check(Transformed) == []
    assert orphan_keys(Transformed, kept) == []
    for name in ("name", "initial", "tags"):
        holders = set(equal_index_map(Transformed, name))
        assert not holders & set(doomed), f"deleted instances still indexed by {name}"
    summary(
        "transform index, delete vs update",
        started,
        deleted=deleter["deleted"],
        delete_retries_exhausted=deleter["transform_retries_exhausted"],
        writes=sum(r["ops"] for r in updaters),
        does_not_exist=sum(r["does_not_exist"] for r in updaters),
        write_retries_exhausted=sum(r["transform_retries_exhausted"] for r in updaters),
    )
