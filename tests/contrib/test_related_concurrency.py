"""Propagation of deletions under concurrent writers: real processes, one real server.

Writer processes point groups and persons to persons (M2M adds and removes, lists
with duplicates, sorted sets, foreign keys, a unique foreign key, creates) while
deleter processes delete persons. Afterwards no field anywhere holds the pk of a
deleted person, no index lists one, and ``consistency_check`` is empty for every
model. ``pytest -s`` prints the counts.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from django_limpyd.consistency import consistency_check
from tests.contrib import related_models
from tests.contrib.related_models import DATABASE, Group, Person

# standalone: its spawned workers do not get the suite's cluster hash tag (tests/cluster
# runs processes on a cluster)
pytestmark = [pytest.mark.slow, pytest.mark.standalone]

ROOT = str(Path(__file__).resolve().parents[2])
WRITERS = 4
DELETERS = 2
PERSONS = 60
GROUPS = 12
SECONDS = 4.0


@pytest.fixture
def pool(redis_server):
    kwargs = redis_server.connection_kwargs()
    DATABASE.connect(**kwargs)
    context = multiprocessing.get_context("spawn")
    size = WRITERS + DELETERS
    barrier = context.Barrier(size)
    processes = context.Pool(
        size, initializer=related_models.setup_worker, initargs=(ROOT, kwargs, barrier)
    )
    try:
        pids = processes.map(related_models.ready, range(size), chunksize=1)
        assert len(set(pids)) == size  # every process is set up
        yield processes
    finally:
        processes.terminate()
        processes.join()
        DATABASE.close()


def stored_pks(group: Group) -> set[str]:
    return (
        {group.owner.get(), group.leader.hget()} - {None}
        | group.members.smembers()
        | set(group.queue.lrange(0, -1))
        | set(group.ranking.zrange(0, -1))
    )


def index_mentions(model: type, pks: set[str]) -> list[str]:
    """Index keys of ``model`` naming one of ``pks`` (as value or as member)."""
    found = []
    connection = DATABASE.connection
    for key in model.scan_model_keys():
        if ":x:" not in key:
            continue
        kind = connection.type(key)
        value = key.rsplit(":", 1)[-1]
        if kind == "set" and value in pks and connection.scard(key):
            found.append(key)
        elif kind == "zset":  # the NumberRangeIndex of Group.leader: pk scored by value
            for member, score in connection.zscan_iter(key):
                if str(int(score)) in pks:
                    found.append(f"{key} {member} {score}")
    return found


@pytest.mark.timeout(180)
def test_deletions_propagate_under_concurrent_writers(pool):
    started = time.perf_counter()
    persons = [Person(name=f"p{i}") for i in range(PERSONS)]
    person_pks = [person.pk.get() for person in persons]
    groups = [Group(name=f"g{i}", label="l0") for i in range(GROUPS)]
    group_pks = [group.pk.get() for group in groups]
    doomed = person_pks[::2]  # half of them
    start_at = time.time() + 1.0
    jobs = [
        pool.apply_async(
            related_models.write_relations, (person_pks, group_pks, SECONDS, seed, start_at)
        )
        for seed in range(WRITERS)
    ] + [
        pool.apply_async(
            related_models.delete_persons,
            (doomed[k::DELETERS], SECONDS * 0.8, 100 + k, start_at),
        )
        for k in range(DELETERS)
    ]
    results = [job.get(timeout=120) for job in jobs]
    writes, deletes = results[:WRITERS], results[WRITERS:]
    totals = {key: sum(result[key] for result in writes) for key in writes[0]}
    deleted = sum(result["deleted"] for result in deletes)

    alive = set(DATABASE.connection.zrange(Person._meta.keys.pks, 0, -1))
    gone = set(person_pks) - alive
    assert deleted == len(doomed) and gone == set(doomed)
    # no field anywhere holds a deleted pk
    all_groups = list(Group.instances())
    assert len(all_groups) >= GROUPS
    for group in all_groups:
        assert not stored_pks(group) & gone, group
    for person in Person.instances():
        assert person.mentor.get() not in gone
        assert not person.friends.smembers() & gone
    # no index lists a deleted pk, and every index matches the data
    assert index_mentions(Group, gone) == []
    assert index_mentions(Person, gone) == []
    for model in (Person, Group):
        assert consistency_check(model) == []
    # the race happened: writes were refused because their target had just gone
    assert totals["written"] > 100
    assert totals["target_missing"] > 0
    print(
        f"\n[related concurrency] {WRITERS} writers, {DELETERS} deleters, {SECONDS}s: "
        + ", ".join(f"{key}={value}" for key, value in totals.items())
        + f", persons deleted={deleted}, groups at the end={len(all_groups)}, "
        f"time={time.perf_counter() - started:.2f}s"
    )
