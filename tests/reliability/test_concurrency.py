"""Concurrency with real processes, beyond ``tests/concurrency/test_core.py``.

That module covers unique creates by 8 processes, AutoPK uniqueness, indexed
updates, delete vs update and transforms. Here: ``get_or_connect`` races on a
unique value, and the load test of QUALITY.md (10,000 instances created by 4
processes at once with ``bulk_create`` chunks), each ending with a full
consistency check and direct checks of the index keys.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from django_limpyd.consistency import consistency_check
from tests.reliability.helpers import summary
from tests.reliability.jobs import CITIES, person_values
from tests.reliability.models import DATABASE, Claim, Person
from tests.reliability.workers import WorkerPool

pytestmark = pytest.mark.slow

# -- get_or_connect races ----------------------------------------------------------------

CLAIMERS = 6
CLAIM_VALUES = 30
#: seconds between two values: each value is a fresh race between all processes
CLAIM_STEP = 0.03


@pytest.mark.timeout(90)
def test_get_or_connect_races_give_one_instance_to_all(workers: WorkerPool, session_kwargs):
    """6 processes call ``get_or_connect(code=v, label=...)`` for the same 30 values."""
    started = time.perf_counter()
    startup = workers.startup_seconds
    values = ["the-one", "a:b *?[x]{y}", "é €"] + [f"value-{i}" for i in range(CLAIM_VALUES - 3)]
    jobs = [("claim_values", (session_kwargs, values, CLAIM_STEP)) for _ in range(CLAIMERS)]
    results = workers.run(jobs, timeout=60)

    creators: Counter[str] = Counter()
    pks = {}
    for value in values:
        got = [result["got"][value] for result in results]
        assert len({pk for pk, _created in got}) == 1, (value, got)  # all got the same one
        assert sum(created for _pk, created in got) == 1, (value, got)  # one created it
        pks[value] = got[0][0]
        creators[next(i for i, (_pk, created) in enumerate(got) if created)] += 1
    connection = DATABASE.connection
    assert set(connection.zrange(Claim._meta.keys.pks, 0, -1)) == set(pks.values())
    assert consistency_check(Claim) == []
    code_index = Claim.get_field("code").indexes[0]
    label_index = Claim.get_field("label").indexes[0]
    for value, pk in pks.items():
        assert Claim(pk).hmget("code", "label") == [value, f"label-{value}"]
        assert connection.smembers(code_index.get_storage_key(value)) == {pk}
        assert connection.smembers(label_index.get_storage_key(f"label-{value}")) == {pk}
    summary(
        "get_or_connect races",
        started,
        processes=CLAIMERS,
        values=len(values),
        calls=CLAIMERS * len(values),
        instances=len(pks),
        creates_per_process=[creators[i] for i in range(CLAIMERS)],
        worker_startup_s=round(workers.startup_seconds - startup, 2),
    )


# -- load --------------------------------------------------------------------------------

LOADERS = 4
PEOPLE = 10_000
CHUNK = 250


def used_memory() -> int:
    return DATABASE.connection.info("memory")["used_memory"]


def reference_memory(count: int) -> int:
    """Memory of the same data in a hand-written layout: one hash per person, a set
    per email and per city, a sorted set of ages, a set of ids (what redis-py code
    without an ORM would store)."""
    connection = DATABASE.connection
    connection.flushdb()
    base = used_memory()
    pipe = connection.pipeline(transaction=False)
    for i in range(count):
        values = person_values(i)
        pk = str(i + 1)
        pipe.hset(f"ref:person:{pk}", mapping=values)
        pipe.sadd(f"ref:email:{values['email']}", pk)
        pipe.sadd(f"ref:city:{values['city']}", pk)
        pipe.zadd("ref:age", {pk: values["age"]})
        pipe.sadd("ref:ids", pk)
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()
    used = used_memory() - base
    connection.flushdb()
    return used


@pytest.mark.timeout(120)
def test_load_10000_instances_by_4_processes(workers: WorkerPool, session_kwargs):
    started = time.perf_counter()
    startup = workers.startup_seconds
    workers.ensure(LOADERS)
    DATABASE.load_scripts()
    memory_before = used_memory()
    per_process = PEOPLE // LOADERS
    jobs = [
        ("load_people", (session_kwargs, i * per_process, per_process, CHUNK))
        for i in range(LOADERS)
    ]
    load_started = time.perf_counter()
    results = workers.run(jobs, timeout=100)
    load_seconds = time.perf_counter() - load_started
    memory = used_memory() - memory_before

    created: dict[str, int] = {}
    for result in results:
        assert not set(result["created"]) & set(created), "a pk given twice"
        created.update(result["created"])
    assert len(created) == PEOPLE
    assert sorted(created.values()) == list(range(PEOPLE))
    connection = DATABASE.connection
    keys = Person._meta.keys
    assert set(connection.zrange(keys.pks, 0, -1)) == set(created)
    assert set(created) == {str(pk) for pk in range(1, PEOPLE + 1)}
    assert connection.get(keys.max_pk) == str(PEOPLE)

    # every instance whole, with its own values
    pipe = connection.pipeline(transaction=False)
    for pk in created:
        pipe.hgetall(keys.instance_hash(pk))
    for (pk, i), stored in zip(created.items(), pipe.execute(), strict=True):
        assert stored == {k: str(v) for k, v in person_values(i).items()}, pk

    # every index complete, checked on its keys
    check_started = time.perf_counter()
    assert consistency_check(Person) == []
    check_seconds = time.perf_counter() - check_started
    email_index = Person.get_field("email").indexes[0]
    city_index = Person.get_field("city").indexes[0]
    age_index = Person.get_field("age").indexes[0]
    pipe = connection.pipeline(transaction=False)
    for i in created.values():
        pipe.smembers(email_index.get_storage_key(person_values(i)["email"]))
    for (pk, _i), holders in zip(created.items(), pipe.execute(), strict=True):
        assert holders == {pk}
    by_city: dict[str, set[str]] = {city: set() for city in CITIES}
    for pk, i in created.items():
        by_city[person_values(i)["city"]].add(pk)
    for city, pks in by_city.items():
        assert connection.smembers(city_index.get_storage_key(city)) == pks
    ages = dict(connection.zrange(age_index.get_storage_key(), 0, -1, withscores=True))
    assert ages == {pk: float(person_values(i)["age"]) for pk, i in created.items()}
    assert len(Person.collection(city=CITIES[3], age__gte=50)) == sum(
        1 for i in created.values() if i % len(CITIES) == 3 and i % 90 >= 50
    )

    reference = reference_memory(PEOPLE)
    summary(
        "load",
        started,
        processes=LOADERS,
        instances=PEOPLE,
        bulk_create_chunk=CHUNK,
        load_s=round(load_seconds, 2),
        creates_per_s=round(PEOPLE / load_seconds),
        consistency_check_s=round(check_seconds, 2),
        memory_per_instance_bytes=round(memory / PEOPLE),
        reference_layout_bytes=round(reference / PEOPLE),
        memory_ratio=round(memory / reference, 2),
        worker_startup_s=round(workers.startup_seconds - startup, 2),
    )
