"""Pipelines and transactions: every write works inside, one round trip per batch."""

import threading

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.database import PipelineDatabase
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.indexes import EqualIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands


def first_letter(value):
    return value[:1]


@pytest.fixture
def db(redis_server):
    database = PipelineDatabase(**redis_server.connection_kwargs())
    database.load_scripts()
    yield database
    database.close()


@pytest.fixture
def Person(db):
    class Person(RedisModel):
        database = db
        namespace = "pipelines"
        name = fields.StringField()
        city = fields.StringField(indexable=True)
        email = fields.InstanceHashField(unique=True)
        initial = fields.InstanceHashField(
            indexable=True, indexes=[EqualIndex.configure(transform=first_letter)]
        )
        tags = fields.SetField(indexable=True)
        scores = fields.SortedSetField()
        history = fields.ListField()
        data = fields.HashField()

    for name, city in [
        ("Jean Dupond", "Paris"),
        ("Francois Martin", "Paris"),
        ("John Smith", "New York"),
        ("John Doe", "San Franciso"),
        ("Paul Durand", "Paris"),
    ]:
        Person(name=name, city=city)
    return Person


def test_seed_example_one_call(Person, db):
    persons = list(Person.collection(city="Paris").instances())
    with assert_num_commands(5, db, round_trips=1), db.pipeline() as pipeline:
        for person in persons:
            person.name.get()
        names = pipeline.execute()
    assert names == ["Jean Dupond", "Francois Martin", "Paul Durand"]


def test_commands_of_every_field_type_queue_and_return_in_order(Person, db):
    person = Person(1)
    with assert_num_commands(14, db, round_trips=1), db.pipeline() as pipeline:
        person.name.set("Jean")
        person.name.get()
        person.email.hset("jean@example.com")
        person.email.hget()
        person.tags.sadd("a", "b")
        person.tags.scard()
        person.scores.zadd(x=1.5)
        person.scores.zscore("x")
        person.history.rpush("one", "two")
        person.history.lrange(0, -1)
        person.data.hmset(k="v")
        person.hmget("email")
        results = pipeline.execute()
    assert results == [
        True, "Jean", 1, "jean@example.com", 2, 2, 1, 1.5, 2, ["one", "two"], True,
        ["jean@example.com"],
    ]  # fmt: skip


def test_indexed_writes_creates_and_deletes_in_one_round_trip(Person, db):
    first, second = Person(1), Person(2)
    # + 2 HGET: the stored values of the transform-indexed field, read ahead (1 round
    # trip) so that no write of the MULTI/EXEC needs a second round
    with assert_num_commands(10, db, round_trips=2), db.pipeline() as pipeline:
        first.city.set("Lyon")
        second.tags.sadd("x")
        created = Person(name="New", city="Lyon", email="new@example.com")
        Person.lazy_connect(3).delete()
        first.initial.hset("Zed")
        second.email.hset("second@example.com")
        results = pipeline.execute()
    assert results == [True, 1, "6", True, 1, 1]
    assert created.pk.get() == "6"
    assert list(Person.collection(city="Lyon")) == ["1", "6"]
    assert list(Person.collection(initial="Z")) == ["1"]
    assert not Person.exists(3)
    assert consistency_check(Person) == []


def test_uniqueness_failure_is_reported_for_its_command_only(Person, db):
    Person(1).email.hset("taken@example.com")
    with db.pipeline() as pipeline:
        Person(2).city.set("Rome")
        failed = Person(name="X", email="taken@example.com")
        Person(3).email.hset("taken@example.com")
        Person(4).city.set("Oslo")
        results = pipeline.execute(raise_on_error=False)
    assert results[0] is True and results[3] is True
    assert isinstance(results[1], UniquenessError) and isinstance(results[2], UniquenessError)
    assert failed.pk.get() is None
    assert Person(3).email.hget() is None
    assert list(Person.collection(city="Oslo")) == ["4"]
    assert consistency_check(Person) == []
    with db.pipeline() as pipeline:
        Person(5).email.hset("taken@example.com")
        with pytest.raises(UniquenessError):
            pipeline.execute()


def test_transforms_needed_inside_a_pipeline_are_sent_again(Person, db):
    Person(1).initial.hset("Alpha")
    with db.pipeline() as pipeline:
        Person(1).initial.hset("Beta")  # the old value's transform is asked for
        Person(2).initial.hset("Gamma")
        assert pipeline.execute() == [0, 1]
    assert list(Person.collection(initial="B")) == ["1"]
    assert list(Person.collection(initial="A")) == []
    assert consistency_check(Person) == []


def test_instance_created_in_a_pipeline_cannot_be_written_before_execute(Person, db):
    with db.pipeline() as pipeline:
        person = Person(name="New")
        with pytest.raises(ImplementationError, match="unknown until execute"):
            person.city.set("Paris")
        pipeline.execute()
    assert person.city.set("Paris") is True


def test_bulk_create_1000_in_one_round_trip(Person, db):
    rows = [{"name": f"n{i}", "city": f"c{i % 7}", "email": f"{i}@x"} for i in range(1000)]
    with assert_num_commands(1002, db, round_trips=1):
        created = Person.bulk_create(rows)
    assert [p.pk.get() for p in created] == [str(i) for i in range(6, 1006)]
    assert len(Person.collection(city="c3")) == len([r for r in rows if r["city"] == "c3"])
    assert consistency_check(Person) == []


def test_bulk_create_reports_failures_and_keeps_the_others(Person, db):
    rows = [{"email": "a@x"}, {"email": "a@x"}, {"email": "b@x"}]
    with pytest.raises(UniquenessError):
        Person.bulk_create(rows)
    assert Person.exists(email="a@x") and Person.exists(email="b@x")
    created = Person.bulk_create([{"email": "b@x"}, {"email": "c@x"}], raise_on_error=False)
    assert created[0].pk.get() is None and created[1].pk.get() is not None


def test_transaction_seed_example_and_retry_on_watch_error(db):
    class Page(RedisModel):
        database = db
        namespace = "pipelines"
        url = fields.StringField(indexable=True)
        hits = fields.StringField()

    page = Page(url="/", hits=0)
    calls = []

    def do_incr(pipeline):
        previous = int(page.hits.get())
        if not calls:  # another client changes the watched key once
            db.connection.incr(page.hits.key)
        calls.append(previous)
        pipeline.multi()
        page.hits.set(previous + 1)

    assert db.transaction(do_incr, page.hits) == [True]
    assert calls == [0, 1]
    assert page.hits.get() == "2"


def test_pipeline_is_private_to_its_thread_unless_shared(Person, db):
    person = Person(1)
    seen = {}

    def other_thread():
        seen["name"] = person.name.get()

    with db.pipeline() as pipeline:
        person.name.get()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(5)
        assert pipeline.execute() == ["Jean Dupond"]
    assert seen["name"] == "Jean Dupond"

    with db.pipeline(share_in_threads=True) as pipeline:
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(5)
        assert pipeline.execute() == ["Jean Dupond"]


def test_nested_pipelines_are_refused(db):
    with db.pipeline(), pytest.raises(ImplementationError, match="already has an active"):
        db.pipeline().__enter__()


def test_scripts_missing_on_the_server_are_loaded_once(Person, db):
    db.connection.script_flush()
    with count_commands(db) as recorder, db.pipeline() as pipeline:
        Person.lazy_connect(1).city.set("Nice")
        Person.lazy_connect(2).city.set("Nice")
        assert pipeline.execute() == [True, True]
    assert list(Person.collection(city="Nice")) == ["1", "2"]
    # Redis 7: functions are not scripts (SCRIPT FLUSH leaves them); Redis 6.2: the batch
    # checks its scripts before MULTI and loads them, unseen: one round trip either way
    assert recorder.num_round_trips == 1
