"""``EqualIndexWith``: the seeds' Queue example (with its error wording), filters on
several fields at once, unique together, and index entries following every field.

After every write the index must match the data exactly (``consistency_check``).
"""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.indexes import EqualIndexWith
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.indexes import EqualIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

NAMESPACE = "t_contrib_together"


@pytest.fixture
def Queue(database):
    db = database

    class Queue(RedisModel):
        database = db
        namespace = NAMESPACE
        name = fields.InstanceHashField(
            indexable=True,
            indexes=[
                EqualIndex,  # allow to filter on ``name`` only
                # name and priority are unique together
                EqualIndexWith.configure(other_fields=["priority"], unique=True),
            ],
        )
        priority = fields.InstanceHashField()

    return Queue


def check(model):
    assert consistency_check(model) == []


def test_seed_queue_example(Queue, database):
    queue = Queue(name="foo", priority=1)
    check(Queue)
    assert list(Queue.collection(name="foo", priority=1)) == ["1"]
    assert list(Queue.collection(name="foo")) == ["1"]  # possible because of ``EqualIndex``
    # not possible, because field not indexed alone
    with pytest.raises(ImplementationError) as raised:
        list(Queue.collection(priority=1))
    assert str(raised.value) == (
        'No index found to manage filter "priority" for field Queue.priority'
    )
    with pytest.raises(UniquenessError) as raised:
        Queue(name="foo", priority=1)
    assert str(raised.value) == (
        'Value "name=foo, priority=1" already indexed for unique together fields '
        "[name, priority] on Queue (for instance 1)"
    )
    check(Queue)
    assert queue.hmget("name", "priority") == ["foo", "1"]
    queue2 = Queue(name="foo", priority=2)  # same name, different priority
    check(Queue)
    assert list(Queue.collection(name="foo", priority=2)) == [queue2.pk.get()] == ["2"]
    # `__in` suffix are usable with this index
    assert list(Queue.collection(name="foo", priority__in=[1, 2])) == ["1", "2"]


def test_failed_create_leaves_nothing(Queue, database):
    Queue(name="foo", priority=1)
    before = sorted(database.connection.keys("*"))
    with pytest.raises(UniquenessError):
        Queue(name="foo", priority=1)
    assert sorted(database.connection.keys("*")) == before
    assert database.connection.get(Queue._meta.keys.max_pk) == "1"


def test_filter_forms(Queue, database):
    data = [("foo", 1), ("foo", 2), ("bar", 1), ("bar", 3), ("baz", 2)]
    for name, priority in data:
        Queue(name=name, priority=priority)
    check(Queue)

    def expected(names, priorities):
        return {
            str(pk)
            for pk, (name, priority) in enumerate(data, 1)
            if name in names and priority in priorities
        }

    assert set(Queue.collection(name__eq="bar", priority__eq=3)) == expected({"bar"}, {3})
    assert set(Queue.collection(name__in=["foo", "bar"], priority=1)) == expected(
        {"foo", "bar"}, {1}
    )
    assert set(Queue.collection(name__in=["foo", "baz", "x"], priority__in=["2", 3])) == (
        expected({"foo", "baz"}, {2, 3})
    )
    assert set(Queue.collection(name="foo", priority=3)) == set()
    assert list(Queue.collection(name__in=[], priority=3)) == []
    # other filters are and-ed; the combined lookup is one operation of one call
    assert set(Queue.collection(name="foo", priority__in=[1, 2], pk__in=["2", "5"])) == {"2"}
    with assert_num_commands(1, database, round_trips=1):
        assert Queue.collection(name__in=["foo", "bar"], priority__in=[1, 2, 3]).count() == 4
    # filtering on name alone still uses the EqualIndex
    assert set(Queue.collection(name="bar")) == expected({"bar"}, {1, 2, 3})
    # values from a field of an instance are read when the collection runs
    other = Queue(4)
    collection = Queue.collection(name=other.name, priority=other.priority)
    other.priority.hset(2)
    assert list(collection) == ["4"]
    assert list(Queue.collection(name="bar", priority=3)) == []


def test_filter_errors(Queue, database):
    with assert_num_commands(0, database), pytest.raises(ImplementationError) as raised:
        Queue.collection(priority__in=[1, 2])
    assert str(raised.value) == (
        'No index found to manage filter "priority__in" for field Queue.priority'
    )
    with pytest.raises(InvalidValue, match="priority__in needs a list"):
        Queue.collection(name="foo", priority__in=3)
    with pytest.raises(InvalidValue, match="None"):
        Queue.collection(name="foo", priority=None)
    # a filter of the index that cannot be combined falls back to the field's indexes
    with pytest.raises(ImplementationError, match="Queue.name"):
        Queue.collection(name__gt="foo", priority=1)


def test_only_together_field_alone(database):
    db = database

    class Pair(RedisModel):
        database = db
        namespace = NAMESPACE
        left = fields.StringField(
            indexable=True, indexes=[EqualIndexWith.configure(other_fields=["right"])]
        )
        right = fields.StringField()

    Pair(left="a", right="b")
    assert list(Pair.collection(left="a", right="b")) == ["1"]
    with pytest.raises(ImplementationError) as raised:
        Pair.collection(left="a")
    assert str(raised.value) == 'No index found to manage filter "left" for field Pair.left'
    # not unique by default
    Pair(left="a", right="b")
    assert list(Pair.collection(left="a", right="b")) == ["1", "2"]
    check(Pair)


def test_indexed_only_when_all_fields_are_set(Queue, database):
    queue = Queue(name="foo")
    check(Queue)
    assert list(Queue.collection(name="foo", priority=1)) == []
    queue.priority.hset(1)
    check(Queue)
    assert list(Queue.collection(name="foo", priority=1)) == ["1"]
    queue.priority.hset(5)  # the other field moves the entry
    check(Queue)
    assert list(Queue.collection(name="foo", priority=1)) == []
    assert list(Queue.collection(name="foo", priority=5)) == ["1"]
    queue.name.hset("bar")
    check(Queue)
    assert list(Queue.collection(name="bar", priority=5)) == ["1"]
    queue.name.delete()
    check(Queue)
    assert list(Queue.collection(name="bar", priority=5)) == []
    queue.hmset(name="baz", priority=7)
    check(Queue)
    assert list(Queue.collection(name="baz", priority=7)) == ["1"]
    queue.hdel("priority")
    check(Queue)
    assert list(Queue.collection(name="baz", priority=7)) == []
    queue.priority.hset(7)
    queue.delete()
    check(Queue)
    assert list(Queue.collection(name="baz", priority=7)) == []
    assert list(Queue.scan_model_keys()) == [Queue._meta.keys.max_pk]


def test_uniqueness_on_every_kind_of_write(Queue):
    Queue(name="foo", priority=1)
    queue = Queue(name="foo", priority=2)
    message = 'Value "name=foo, priority=1" already indexed for unique together fields'
    with pytest.raises(UniquenessError, match=message):
        queue.priority.hset(1)
    assert queue.priority.hget() == "2"
    other = Queue(name="bar", priority=1)
    with pytest.raises(UniquenessError, match=message):
        other.name.hset("foo")
    assert other.name.hget() == "bar"
    with pytest.raises(UniquenessError, match=message + r" \[name, priority\] on Queue"):
        other.hmset(name="foo", priority=1)
    assert other.hmget("name", "priority") == ["bar", "1"]
    # not indexed while incomplete: no uniqueness either
    incomplete = Queue(name="foo")
    with pytest.raises(UniquenessError, match=r"\(for instance 1\)"):
        incomplete.priority.hset(1)
    assert incomplete.priority.hget() is None
    check(Queue)
    # freeing a combination lets another instance take it
    Queue(1).priority.hset(3)
    queue.priority.hset(1)
    check(Queue)
    assert list(Queue.collection(name="foo", priority=1)) == [queue.pk.get()]


def test_several_other_fields_and_string_fields(database):
    db = database

    class Slot(RedisModel):
        database = db
        namespace = NAMESPACE
        collection_manager = ExtendedCollectionManager
        room = fields.StringField(
            indexable=True,
            indexes=[EqualIndexWith.configure(other_fields=["day", "hour"], unique=True)],
        )
        day = fields.InstanceHashField()
        hour = fields.StringField()

    Slot(room="a:1", day="mon", hour="9")
    Slot(room="a", day="1:mon", hour="9")  # no confusion between the parts
    with pytest.raises(UniquenessError) as raised:
        Slot(room="a:1", day="mon", hour="9")
    assert str(raised.value) == (
        'Value "room=a:1, day=mon, hour=9" already indexed for unique together fields '
        "[room, day, hour] on Slot (for instance 1)"
    )
    check(Slot)
    assert list(Slot.collection(room="a:1", day="mon", hour=9)) == ["1"]
    assert list(Slot.collection(room="a", day="1:mon", hour=9)) == ["2"]
    assert list(Slot.collection(room="a", day="mon", hour=9)) == []
    # every field is needed in the same call (filter() is a call too)
    with pytest.raises(ImplementationError, match='filter "hour"'):
        Slot.collection().filter(hour=9)
    with pytest.raises(ImplementationError, match='filter "room"'):
        Slot.collection(room="a", day="mon")
    assert list(Slot.collection().filter(room="a", day="1:mon", hour=9)) == ["2"]
    # lengths in the entries count bytes, as the scripts do
    Slot(room="salle é", day="lundi ☀", hour="9")
    check(Slot)
    assert list(Slot.collection(room="salle é", day="lundi ☀", hour="9")) == ["3"]
    slot = Slot(2)
    slot.hour.set("10")
    check(Slot)
    assert list(Slot.collection(room="a", day="1:mon", hour__in=[9, 10])) == ["2"]
    index = Slot.get_field("room").get_index()
    key = index.get_storage_key("a", "1:mon", 10)
    assert database.connection.smembers(key) == {"2"}
    with pytest.raises(ImplementationError, match="a value for each of room, day, hour"):
        index.get_storage_key("a")


def test_transform_applies_to_the_indexed_field(database):
    db = database

    class Account(RedisModel):
        database = db
        namespace = NAMESPACE
        email = fields.StringField(
            indexable=True,
            indexes=[
                EqualIndexWith.configure(
                    other_fields=["site"], unique=True, transform=lambda value: value.lower()
                )
            ],
        )
        site = fields.StringField()

    Account(email="Me@Example.com", site="s1")
    with pytest.raises(UniquenessError, match='"email=me@example.com, site=s1"'):
        Account(email="ME@example.COM", site="s1")
    Account(email="ME@example.COM", site="s2")
    check(Account)
    # filter values are not transformed (as for every index)
    assert list(Account.collection(email="me@example.com", site="s1")) == ["1"]
    assert list(Account.collection(email="Me@Example.com", site="s1")) == []


def test_rebuild_and_clear(Queue):
    for name, priority in [("a", 1), ("a", 2), ("b", 1)]:
        Queue(name=name, priority=priority)
    Queue(name="c")
    index = Queue.get_field("name").get_index(EqualIndexWith)
    assert index.clear() == 3
    assert consistency_check(Queue) != []
    assert list(Queue.collection(name="a", priority=2)) == []
    assert index.rebuild() == 4
    check(Queue)
    assert list(Queue.collection(name="a", priority=2)) == ["2"]


def test_configuration_errors(database):
    db = database
    with pytest.raises(ImplementationError, match="needs other fields"):

        class NoOthers(RedisModel):
            database = db
            namespace = NAMESPACE
            name = fields.StringField(indexable=True, indexes=[EqualIndexWith])

    with pytest.raises(ImplementationError, match="cannot name the field itself"):

        class Itself(RedisModel):
            database = db
            namespace = NAMESPACE
            name = fields.StringField(
                indexable=True, indexes=[EqualIndexWith.configure(other_fields=["name"])]
            )

    for bad in ("priority", [], ["a", "a"], [3]):
        with pytest.raises(ImplementationError, match="other_fields"):
            EqualIndexWith.configure(other_fields=bad)

    with pytest.raises(ImplementationError, match="holds several values"):

        class MultiOther(RedisModel):  # refused when defined (as in limpyd)
            database = db
            namespace = NAMESPACE
            tags = fields.SetField()
            name = fields.StringField(
                indexable=True, indexes=[EqualIndexWith.configure(other_fields=["tags"])]
            )

    assert (NAMESPACE, "MultiOther") not in db.models
