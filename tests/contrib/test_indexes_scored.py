"""``ScoredEqualIndex``: the seeds' Job example, score changes, deletions, storage keys.

After every write the index must match the data exactly (``consistency_check``).
"""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.collection import CollectionManager
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.collection import SORTED_SCORE, ExtendedCollectionManager
from django_limpyd.contrib.indexes import ScoredEqualIndex
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.indexes import EqualIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

NAMESPACE = "t_contrib_scored"


@pytest.fixture
def Job(database):
    db = database

    class Job(RedisModel):
        database = db
        namespace = NAMESPACE
        collection_manager = ExtendedCollectionManager  # mandatory to use this index
        priority = fields.InstanceHashField()
        queue_name = fields.InstanceHashField(
            indexable=True, indexes=[ScoredEqualIndex.configure(score_field="priority")]
        )

    return Job


def check(model):
    assert consistency_check(model) == []


def test_seed_job_example(Job):
    job1 = Job(queue_name="foo")
    check(Job)
    # not indexed if scored field not set
    assert list(Job.collection(queue_name="foo")) == []
    job1.priority.hset(2)
    check(Job)
    assert list(Job.collection(queue_name="foo")) == ["1"]
    job2 = Job(priority=1, queue_name="foo")
    check(Job)
    # collection is ordered by score
    assert list(Job.collection(queue_name="foo")) == ["2", "1"]
    job2.priority.hset(4)
    check(Job)
    assert list(Job.collection(queue_name="foo")) == ["1", "2"]
    assert job1.pk.get() == "1" and job2.pk.get() == "2"


def test_seed_storage_key(Job, database):
    Job(queue_name="foo", priority=3)
    Job(queue_name="foo", priority="1.5")
    Job(queue_name="bar", priority=7)
    index = Job.get_field("queue_name").get_index()
    assert isinstance(index, ScoredEqualIndex)
    key = index.get_storage_key("foo")
    connection = database.connection
    assert connection.type(key) == "zset"
    assert connection.zrange(key, 0, -1, withscores=True) == [("2", 1.5), ("1", 3.0)]
    assert index.get_storage_key("bar") != key
    # an instance stands for its pk
    job = Job(queue_name="3", priority=0)
    assert index.get_storage_key(Job(3)) == index.get_storage_key("3")
    assert connection.zrange(index.get_storage_key(Job(3)), 0, -1) == [job.pk.get()]
    # the storage is apart from an EqualIndex of the same field
    assert key.startswith(Job._meta.keys.prefix + ":x:")
    assert not key.startswith(Job._meta.keys.index_storage("queue_name", "eq"))


def test_filters_eq_and_in(Job):
    for name, priority in [("a", 5), ("b", 1), ("a", 2), ("c", 3), ("b", 9), ("a", -1)]:
        Job(queue_name=name, priority=priority)
    check(Job)
    assert list(Job.collection(queue_name="a")) == ["6", "3", "1"]
    assert list(Job.collection(queue_name__eq="b")) == ["2", "5"]
    assert set(Job.collection(queue_name__in=["a", "c"])) == {"1", "3", "4", "6"}
    assert list(Job.collection(queue_name__in=[])) == []
    assert list(Job.collection(queue_name="nothing")) == []
    assert Job.collection(queue_name="a").count() == 3
    # slices of the score order, in one call
    with assert_num_commands(1, Job._meta.database):
        assert list(Job.collection(queue_name="a")[1:3]) == ["3", "1"]
    assert [job.pk.get() for job in Job.collection(queue_name="a").instances()] == ["6", "3", "1"]
    # an explicit sort wins over the score order
    assert list(Job.collection(queue_name="a").sort()) == ["1", "3", "6"]
    assert list(Job.collection(queue_name="a").sort(desc=True)) == ["6", "3", "1"]
    assert list(Job.collection(queue_name="a").sort(by="priority", desc=True)) == [
        "1",
        "3",
        "6",
    ]
    key = Job.get_field("queue_name").get_index().get_storage_key("a")
    assert list(Job.collection(queue_name="a").sort(by_score=key, desc=True)) == [
        "1",
        "3",
        "6",
    ]
    rows = list(Job.collection(queue_name="a").sort(by_score=key).values("pk", SORTED_SCORE))
    assert rows == [
        {"pk": "6", SORTED_SCORE: "-1.0"},
        {"pk": "3", SORTED_SCORE: "2.0"},
        {"pk": "1", SORTED_SCORE: "5.0"},
    ]
    # combined with other filters
    assert list(Job.collection(queue_name="a", pk__in=["1", "6", "2"])) == ["6", "1"]


def test_values_in_score_order_in_one_call(Job, database):
    for priority in (3, 1, 2):
        Job(queue_name="q", priority=priority)
    with assert_num_commands(1, database, round_trips=1):
        rows = list(Job.collection(queue_name="q").values_list("pk", "priority"))
    assert rows == [("2", "1"), ("3", "2"), ("1", "3")]


def test_score_changes_resort(Job):
    jobs = [Job(queue_name="q", priority=p) for p in (10, 20, 30)]
    assert list(Job.collection(queue_name="q")) == ["1", "2", "3"]
    jobs[2].priority.hset(5)
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["3", "1", "2"]
    jobs[0].priority.hincrby(15)
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["3", "2", "1"]
    jobs[1].priority.hincrbyfloat(-19.5)
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["2", "3", "1"]
    jobs[1].hmset(priority=100, queue_name="q")
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["3", "1", "2"]
    # a value that is not a number scores 0
    jobs[1].priority.hset("high")
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["2", "3", "1"]


def test_score_deleted_removes_the_entry(Job, database):
    job1 = Job(queue_name="q", priority=1)
    job2 = Job(queue_name="q", priority=2)
    job1.priority.delete()
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["2"]
    job1.hdel("priority")
    check(Job)
    job1.priority.hset(3)
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["2", "1"]
    job2.hdel("priority", "queue_name")
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["1"]
    job1.priority.hdel()
    check(Job)
    assert list(Job.collection(queue_name="q")) == []
    key = Job.get_field("queue_name").get_index().get_storage_key("q")
    assert not database.connection.exists(key)


def test_value_changes_move_the_entry(Job):
    job = Job(queue_name="a", priority=4)
    Job(queue_name="b", priority=5)
    job.queue_name.hset("b")
    check(Job)
    assert list(Job.collection(queue_name="a")) == []
    assert list(Job.collection(queue_name="b")) == ["1", "2"]
    job.queue_name.delete()
    check(Job)
    assert list(Job.collection(queue_name="b")) == ["2"]


def test_instance_delete_removes_the_entry(Job, database):
    job1 = Job(queue_name="q", priority=1)
    job2 = Job(queue_name="q", priority=2)
    Job(queue_name="r")  # never indexed: no score
    job1.delete()
    check(Job)
    assert list(Job.collection(queue_name="q")) == ["2"]
    job2.delete()
    Job(3).delete()
    check(Job)
    assert list(Job.collection(queue_name="q")) == []
    assert list(Job.scan_model_keys()) == [Job._meta.keys.max_pk]


def test_base_collection_manager_filters_unsorted(Job):
    for priority in (3, 1, 2):
        Job(queue_name="q", priority=priority)
    collection = CollectionManager(Job)(queue_name="q")
    assert sorted(collection) == ["1", "2", "3"]
    assert collection.count() == 3


def test_unique_scored_field(database):
    db = database

    class Ticket(RedisModel):
        database = db
        namespace = NAMESPACE
        collection_manager = ExtendedCollectionManager
        rank = fields.StringField()
        code = fields.StringField(
            unique=True, indexes=[ScoredEqualIndex.configure(score_field="rank")]
        )

    Ticket(code="a", rank=1)
    with pytest.raises(UniquenessError, match="Ticket.code"):
        Ticket(code="a", rank=2)
    # not indexed without score: not unique either (limpyd's behaviour)
    Ticket(code="a")
    check(Ticket)
    assert list(Ticket.collection(code="a")) == ["1"]


def test_string_fields_and_transform(database):
    db = database

    class Task(RedisModel):
        database = db
        namespace = NAMESPACE
        collection_manager = ExtendedCollectionManager
        weight = fields.StringField()
        tag = fields.StringField(
            indexable=True,
            indexes=[
                EqualIndex,
                ScoredEqualIndex.configure(
                    score_field="weight", transform=lambda value: value.lower(), prefix="by_weight"
                ),
            ],
        )

    Task(tag="Red", weight=3)
    Task(tag="RED", weight=1)
    Task(tag="blue", weight=2)
    check(Task)
    assert list(Task.collection(tag__by_weight="red")) == ["2", "1"]
    assert set(Task.collection(tag__by_weight__in=["red", "blue"])) == {"1", "2", "3"}
    assert list(Task.collection(tag="Red")) == ["1"]
    Task(2).weight.set(9)
    check(Task)
    assert list(Task.collection(tag__by_weight="red")) == ["1", "2"]


def test_rebuild_and_clear(Job, database):
    for name, priority in [("a", 5), ("b", 1), ("a", 2)]:
        Job(queue_name=name, priority=priority)
    Job(queue_name="a")
    index = Job.get_field("queue_name").get_index()
    assert index.clear() == 2
    assert consistency_check(Job) != []
    assert list(Job.collection(queue_name="a")) == []
    assert index.rebuild() == 4
    check(Job)
    assert list(Job.collection(queue_name="a")) == ["3", "1"]


def test_configuration_errors(database):
    db = database
    with pytest.raises(ImplementationError, match="needs a score field"):

        class NoScore(RedisModel):
            database = db
            namespace = NAMESPACE
            name = fields.StringField(indexable=True, indexes=[ScoredEqualIndex])

    with pytest.raises(ImplementationError, match="score_field"):
        ScoredEqualIndex.configure(score_field=3)

    # refused when the class is defined, as in limpyd
    with pytest.raises(ImplementationError, match="holds several values"):

        class BadScore(RedisModel):
            database = db
            namespace = NAMESPACE
            collection_manager = ExtendedCollectionManager
            tags = fields.SetField()
            name = fields.StringField(
                indexable=True, indexes=[ScoredEqualIndex.configure(score_field="tags")]
            )

    with pytest.raises(ImplementationError, match="'missing' is not a field of MissingScore"):

        class MissingScore(RedisModel):
            database = db
            namespace = NAMESPACE
            collection_manager = ExtendedCollectionManager
            name = fields.StringField(
                indexable=True, indexes=[ScoredEqualIndex.configure(score_field="missing")]
            )

    assert (NAMESPACE, "MissingScore") not in db.models
