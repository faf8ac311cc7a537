"""Contrib indexes under concurrent writers: real (spawned) processes, one real server.

* unique together (``EqualIndexWith``): 8 processes race for the same
  combinations, through create.lua and through write.lua on the *other* field
  (priority, whose write moves name's entry): exactly one winner each;
* a ``DateTimeIndex``, a ``DateIndex``, two ``ScoredEqualIndex`` and a unique
  ``EqualIndexWith`` on one model written at random by 4 processes: every index
  matches the data afterwards, and filtered collections are sorted by score.

Models and jobs live in ``tests/contrib/indexes_models.py``. ``pytest -s`` shows a
one-line summary per test.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.indexes.together import together_token
from django_limpyd.indexes import EqualIndex
from django_limpyd.indexes.range import index_number
from tests.contrib import indexes_models
from tests.contrib.indexes_models import DATABASE, QUEUES, TAGS, Agenda, Queue

pytestmark = pytest.mark.slow

ROOT = str(Path(__file__).resolve().parents[2])
SPAWN = multiprocessing.get_context("spawn")
STARTUP_TIMEOUT = 70.0
BATCH_TIMEOUT = 30.0
START_DELAY = 0.3


def summary(name: str, started: float, **numbers: Any) -> None:
    details = ", ".join(f"{key}={value}" for key, value in numbers.items())
    print(f"\n[concurrency] {name}: {details}, time={time.perf_counter() - started:.2f}s")


class WorkerPool:
    """Spawned worker processes, set up once for the module, one job each per batch,
    all jobs of a batch released at the same instant."""

    def __init__(self, connection_kwargs: dict[str, Any]) -> None:
        self.connection_kwargs = connection_kwargs
        self.results = SPAWN.Queue()
        self.tasks: list[Any] = []
        self.processes: list[Any] = []
        self.batches = 0
        self.broken = False

    def ensure(self, size: int) -> None:
        new = range(len(self.processes), size)
        if not new:
            return
        for index in new:
            tasks = SPAWN.Queue()
            process = SPAWN.Process(
                target=indexes_models.worker_loop,
                args=(ROOT, self.connection_kwargs, tasks, self.results, index),
                name=f"contrib-indexes-worker-{index}",
                daemon=True,
            )
            self.tasks.append(tasks)
            self.processes.append(process)
            process.start()
        self._collect("ready", new, STARTUP_TIMEOUT)

    def _collect(self, batch: Any, indexes: range, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        collected: dict[int, tuple[bool, Any]] = {}
        while len(collected) < len(indexes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"{len(collected)}/{len(indexes)} answers for batch {batch!r}")
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
            self._fail("failed in a worker process:\n" + "\n".join(failures))
        return [collected[index][1] for index in indexes]

    def _fail(self, message: str) -> None:
        self.broken = True
        pytest.fail(message, pytrace=False)

    def run(self, jobs: list[tuple[str, tuple[Any, ...]]]) -> list[dict[str, Any]]:
        self.ensure(len(jobs))
        self.batches += 1
        start_at = time.time() + START_DELAY
        for tasks, (job, args) in zip(self.tasks, jobs, strict=False):
            tasks.put((self.batches, job, args, start_at))
        return self._collect(self.batches, range(len(jobs)), BATCH_TIMEOUT)

    def close(self) -> None:
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


@pytest.fixture
def connection_kwargs(redis_server: Any) -> Iterator[dict[str, Any]]:
    kwargs = redis_server.connection_kwargs()
    DATABASE.connect(**kwargs)
    yield kwargs
    DATABASE.close()


@pytest.fixture(scope="module")
def _pools() -> Iterator[list[WorkerPool]]:
    pools: list[WorkerPool] = []
    yield pools
    for pool in pools:
        pool.close()


@pytest.fixture
def workers(_pools, connection_kwargs) -> WorkerPool:
    if not _pools or _pools[-1].broken:
        if _pools:
            _pools[-1].close()
        _pools.append(WorkerPool(connection_kwargs))
    return _pools[-1]


# -- unique together ------------------------------------------------------------------

UNIQUE_WORKERS = 8
COMBOS = [("the-one", "1")] + [(f"name:{i % 7} *{{x}}", str(i // 7)) for i in range(35)]
STEP = 0.02


@pytest.mark.timeout(120)
def test_unique_together_race_has_one_winner(workers):
    """8 processes take the same (name, priority) combinations: half create instances,
    half write the priority of instances holding only the name."""
    started = time.perf_counter()
    writers = range(UNIQUE_WORKERS // 2, UNIQUE_WORKERS)
    own = {w: [Queue(name=name).pk.get() for name, _ in COMBOS] for w in writers}
    jobs = [("claim_together", (COMBOS, own.get(w), STEP)) for w in range(UNIQUE_WORKERS)]
    results = workers.run(jobs)

    labels = [f"{name}/{priority}" for name, priority in COMBOS]
    winners: dict[str, list[str]] = {label: [] for label in labels}
    losers: Counter[str] = Counter()
    for result in results:
        assert set(result["won"]) | set(result["lost"]) == set(labels)
        for label, pk in result["won"].items():
            winners[label].append(pk)
        for label, message in result["lost"].items():
            losers[label] += 1
            name, priority = label.rsplit("/", 1)
            assert message.startswith(
                f'Value "name={name}, priority={priority}" already indexed for unique together '
                "fields [name, priority] on Queue (for instance "
            ), message
    assert {label: len(pks) for label, pks in winners.items()} == dict.fromkeys(labels, 1)
    assert losers == dict.fromkeys(labels, UNIQUE_WORKERS - 1)
    assert consistency_check(Queue) == []
    index = Queue.get_field("name").get_index(EqualIndex)
    together = Queue.get_field("name").indexes[1]
    connection = DATABASE.connection
    for (name, priority), label in zip(COMBOS, labels, strict=True):
        (pk,) = winners[label]
        assert Queue(pk).hmget("name", "priority") == [name, priority]
        key = together.get_storage_key(name, priority)
        assert connection.smembers(key) == {pk}
        assert list(Queue.collection(name=name, priority=priority)) == [pk]
    # losers through write.lua kept their name only, not indexed together
    for w in writers:
        for (name, _priority), pk in zip(COMBOS, own[w], strict=True):
            stored = Queue(pk).hmget("name", "priority")
            assert stored[0] == name
            assert (stored[1] is None) == (pk not in {p for ps in winners.values() for p in ps})
    assert index.get_storage_key("the-one") != together.get_storage_key("the-one", "1")
    summary(
        "unique together race",
        started,
        processes=UNIQUE_WORKERS,
        combinations=len(COMBOS),
        attempts=UNIQUE_WORKERS * len(COMBOS),
        winners=sum(len(pks) for pks in winners.values()),
        uniqueness_errors=sum(losers.values()),
        wins_by_create=sum(len(results[w]["won"]) for w in range(UNIQUE_WORKERS // 2)),
        wins_by_write=sum(len(results[w]["won"]) for w in writers),
    )


# -- random writers on date/time, scored and together indexes --------------------------

AGENDA_INSTANCES = 24
AGENDA_WORKERS = 4
AGENDA_SECONDS = 2.0


@pytest.mark.timeout(120)
def test_concurrent_writers_keep_contrib_indexes_exact(workers):
    started = time.perf_counter()
    pks = [
        Agenda(
            when=f"2015-06-{i + 1:02d} 12:00:00",
            day=f"2015-06-{i + 1:02d}",
            priority=i,
            queue_name=QUEUES[i % 3],
            weight=i,
            tag=TAGS[i % 3],
        ).pk.get()
        for i in range(AGENDA_INSTANCES)
    ]
    jobs = [("write_agenda", (pks, AGENDA_SECONDS, seed)) for seed in range(AGENDA_WORKERS)]
    results = workers.run(jobs)

    assert consistency_check(Agenda) == []
    assert sum(r["does_not_exist"] for r in results) == 0
    rows = {pk: Agenda(pk) for pk in pks}
    data = {
        pk: {
            **dict(
                zip(
                    ("when", "priority", "queue_name", "slot"),
                    instance.hmget("when", "priority", "queue_name", "slot"),
                    strict=True,
                )
            ),
            "day": instance.day.get(),
            "weight": instance.weight.get(),
            "tag": instance.tag.get(),
        }
        for pk, instance in rows.items()
    }
    # scored filters: exactly the instances with a score, sorted by it (then by pk,
    # as Redis orders equal scores by member)
    for name, score_name, values in (("queue_name", "priority", QUEUES), ("tag", "weight", TAGS)):
        for value in values:
            holders = [
                (index_number(row[score_name]), pk)
                for pk, row in data.items()
                if row[name] == value and row[score_name] is not None
            ]
            expected = [pk for _score, pk in sorted(holders)]
            assert list(Agenda.collection(**{name: value})) == expected, (name, value)
    # date/time filters against the data
    for year in (2014, 2015, 2016):
        expected = {pk for pk, row in data.items() if row["when"] and row["when"][:4] == str(year)}
        assert set(Agenda.collection(when__year=year)) == expected
        expected = {pk for pk, row in data.items() if row["day"] and row["day"][:4] == str(year)}
        assert set(Agenda.collection(day__year=year)) == expected
    expected = {pk for pk, row in data.items() if row["when"] and row["when"][11:] > "12:"}
    assert set(Agenda.collection(when__time__gt="12:")) == expected
    expected = {pk for pk, row in data.items() if row["when"] and int(row["when"][11:13]) < 6}
    assert set(Agenda.collection(when__hour__lt=6)) == expected
    # unique together: no combination held twice, each found under its own token
    combos = Counter(
        (row["slot"], row["queue_name"])
        for row in data.values()
        if row["slot"] is not None and row["queue_name"] is not None
    )
    assert all(count == 1 for count in combos.values()), combos
    together = Agenda.get_field("slot").indexes[0]
    for pk, row in data.items():
        if row["slot"] is not None and row["queue_name"] is not None:
            key = together.storage_base + together_token([row["slot"], row["queue_name"]])
            assert DATABASE.connection.smembers(key) == {pk}
    ops = sum(r["ops"] for r in results)
    summary(
        "contrib indexes under concurrent writers",
        started,
        processes=AGENDA_WORKERS,
        instances=AGENDA_INSTANCES,
        writes=ops,
        uniqueness_conflicts=sum(r["conflicts"] for r in results),
        indexed_when=sum(1 for row in data.values() if row["when"]),
        scored_queue=sum(1 for row in data.values() if row["queue_name"] and row["priority"]),
    )
