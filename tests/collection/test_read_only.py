"""Collections read without writing: every read runs on a read-only replica.

The collection function writes no temporary key (it is a ``no-writes`` function,
called with ``FCALL_RO``, on Redis 7): filters are intersected, sorted and
sliced inside it. Each test writes its data on a master, waits for the replica
to be in sync, points the database at the replica (``replica-read-only yes``,
Redis's default: any write is refused with ``READONLY``) and runs the reads
there; the results are those the master gives. ``explain()`` shows which
strategy each read takes. ``store()`` is the one collection call that writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from django_limpyd import fields
from django_limpyd.collection.plan import explain_plan
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError, ImplementationValueError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from tests.tools.servers import replicated_servers, wait_in_sync

pytestmark = pytest.mark.timeout(30)

#: pointed at the master, then at the replica, by the ``on_replica`` fixture
DATABASE = RedisDatabase()


class Person(RedisModel):
    database = DATABASE
    namespace = "readonly"
    collection_manager = ExtendedCollectionManager
    firstname = fields.InstanceHashField(indexable=True)
    lastname = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
    age = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
    city = fields.StringField(indexable=True)
    ranking = fields.SortedSetField()


PEOPLE = [
    ("John", "Smith", 40, "Paris"),
    ("John", "Doe", 25, "Lyon"),
    ("Emily", "Smith", 31, "Paris"),
    ("Susan", "Doe", 52, "Paris"),
    ("Emily", "Stone", 19, "Lyon"),
    ("John", "Stark", 31, "Nice"),
]

#: name -> a function of the model giving what is read (a list or a number)
READS = {
    "all": lambda M: sorted(M.collection()),
    "page by pk": lambda M: list(M.collection().sort(by="pk")[1:4]),
    "page by -pk": lambda M: list(M.collection().sort(by="-pk")[0:2]),
    "by name": lambda M: list(M.collection().sort(by="lastname", alpha=True)),
    "equal": lambda M: sorted(M.collection(firstname="John")),
    "equal sorted": lambda M: list(M.collection(firstname="John").sort(by="-age")),
    "two filters": lambda M: sorted(M.collection(firstname="John", city="Paris")),
    "three filters sorted": lambda M: list(
        M.collection(city="Paris", age__gte=30, lastname__startswith="S").sort(by="age")
    ),
    "in": lambda M: sorted(M.collection(lastname__in=["Doe", "Stone"])),
    "in and range": lambda M: sorted(M.collection(lastname__in=["Doe", "Smith"], age__lt=35)),
    "text range": lambda M: sorted(M.collection(lastname__startswith="St")),
    "number range": lambda M: sorted(M.collection(age__gt=30, age__lte=52)),
    "range page": lambda M: list(
        M.collection(age__gte=20).sort(by="lastname", alpha=True, desc=True)[1:3]
    ),
    "pk filter": lambda M: sorted(M.collection(pk__in=["2", "3", "99"])),
    "intersect": lambda M: sorted(M.collection(firstname="John").intersect(["1", "2", "5"])),
    "by score": lambda M: list(M.collection().sort(by_score=M(1).ranking)),
    "filtered by score": lambda M: list(
        M.collection(city="Paris").sort(by_score="-" + M(1).ranking.key)
    ),
    "values": lambda M: list(M.collection(city="Lyon").sort(by="pk").values("firstname", "age")),
    "instances": lambda M: [p.pk.get() for p in M.collection(city="Nice").instances()],
    "count": lambda M: len(M.collection()),
    "count filtered": lambda M: len(M.collection(firstname="John", age__gte=30)),
    "count range": lambda M: len(M.collection(age__gte=30)),
    "count and page": lambda M: M.collection(city="Paris").sort(by="age").count_and_slice(0, 2),
}


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple]:
    """A master and its replica; :data:`DATABASE` on the master with the data."""
    with replicated_servers(tmp_path, timeout=10) as (master, replica):
        DATABASE.connect(**master.connection_kwargs(), socket_timeout=5)
        try:
            for first, last, age, city in PEOPLE:
                Person(firstname=first, lastname=last, age=age, city=city)
            Person(1).ranking.zadd({"3": 1, "1": 2, "6": 3, "2": 4})
            yield master, replica
        finally:
            DATABASE.close()


def on_replica(servers: tuple) -> None:
    master, replica = servers
    wait_in_sync(master, replica, timeout=10)
    DATABASE.connect(**replica.connection_kwargs(), socket_timeout=5)


def test_the_replica_refuses_writes(servers):
    on_replica(servers)
    # Redis 7: READONLY; Redis 6.2: the same error, inside the script's error
    with pytest.raises(redis.ResponseError, match="READONLY|read only replica"):
        Person(firstname="Zoe")


def test_every_read_runs_on_a_read_only_replica_with_the_masters_results(servers):
    on_master = {name: read(Person) for name, read in READS.items()}
    assert on_master["equal"] == ["1", "2", "6"]
    assert on_master["three filters sorted"] == ["3", "1"]
    assert on_master["page by pk"] == ["2", "3", "4"]
    assert on_master["by score"] == ["3", "1", "6", "2"]
    assert on_master["filtered by score"] == ["1", "3"]
    assert on_master["pk filter"] == ["2", "3"]
    assert on_master["count and page"] == (3, ["3", "1"])
    on_replica(servers)
    on_the_replica = {name: read(Person) for name, read in READS.items()}
    assert on_the_replica == on_master


def test_explain_names_each_strategy(servers):
    stored = Person.collection(firstname="John").store()
    on_replica(servers)
    cases = {
        "index read": Person.collection(firstname="John"),
        "pk order": Person.collection().sort(by="-pk")[2:4],
        "sort key": Person.collection().sort(by="firstname", alpha=True)[0:2],
        "index walk": Person.collection().sort(by="-age")[0:2],
        "candidates": Person.collection(firstname="John", city="Paris").sort(by="age"),
        "stored list": stored[0:2],
        "nothing can match": Person.collection(pk__in=[]),
    }
    for strategy, collection in cases.items():
        explained = collection.explain()
        assert explained["strategy"] == strategy, (strategy, explained)
        print(f"[explain] {strategy}: {explained}")
    candidates = cases["candidates"].explain()
    # the smallest filter (Paris: 3 pks, John: 3 pks, the first smallest) read, the other
    # tested by pk, the candidates sorted
    assert candidates["commands"][0].startswith("read set {readonly:Person}:")
    assert candidates["commands"][1].startswith("SMISMEMBER {readonly:Person}:")
    assert candidates["commands"][2] == "sort 1 candidates"  # John Smith, of Paris
    assert candidates["cost"] == 3 + 3 + 1
    assert cases["index read"].explain()["commands"][0].startswith(("SORT_RO", "SMEMBERS"))


def test_counts_explained(servers):
    on_replica(servers)
    collection = Person.collection(age__gte=30)
    plan = collection._clone(_query=collection._query.unordered())._plan(count=True)
    # a count of a range is answered by the index: ZCOUNT, sent straight
    explained = explain_plan(Person, plan)
    assert explained["strategy"] == "index read"
    assert explained["commands"] == [
        f"ZCOUNT {Person.get_field('age').get_index().storage_base} 30.0 +inf"
    ]
    plan = Person.collection(age__gte=30, firstname="John")._plan(count=True)
    assert explain_plan(Person, plan)["strategy"] == "candidates"


def test_store_writes_and_is_refused_on_the_replica(servers):
    stored = Person.collection(firstname="John").sort(by="age").store()
    assert list(stored) == ["2", "6", "1"]
    on_replica(servers)
    assert list(stored) == ["2", "6", "1"]  # read back on the replica
    assert stored.explain()["strategy"] == "stored list"
    with pytest.raises(redis.ResponseError, match="READONLY|read only replica"):
        Person.collection(firstname="John").store()


def test_intersect_with_a_string_key_is_a_value_error(servers):
    DATABASE.connection.set("readonly:a-string", "x")
    collection = Person.collection(firstname="John").intersect("readonly:a-string")
    with pytest.raises(ImplementationValueError, match="a string, not a set") as raised:
        list(collection)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, ImplementationError)


def test_a_text_sort_without_alpha_fails_clearly_in_the_function(servers):
    with pytest.raises(ImplementationError, match="alpha=True"):
        list(Person.collection(firstname="John", city="Paris").sort(by="lastname"))


def test_huge_slice_bounds_select_nothing_or_everything(servers):
    collection = Person.collection().sort(by="pk")
    assert collection.count_and_slice(2**64, 2**64 + 10) == (6, [])
    assert list(collection[2**70 :]) == []
    assert list(collection[1 : 2**64]) == ["2", "3", "4", "5", "6"]
    assert list(Person.collection(firstname="John").sort(by="age")[0 : 2**63]) == ["2", "6", "1"]


def test_a_count_of_equal_filters_is_sintercard(servers):
    collection = Person.collection(firstname="John", city="Paris")
    plan = collection._plan(count=True)
    explained = explain_plan(Person, plan)
    if redis.Redis(**servers[0].connection_kwargs()).info("server")["redis_version"] >= "7":
        assert explained["strategy"] == "index count"
        assert explained["commands"][0].startswith("SINTERCARD {readonly:Person}:x:")
    assert len(collection) == 1
