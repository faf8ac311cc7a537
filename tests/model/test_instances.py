"""Instances: creation, connection, class and instance methods, round trips."""

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "instances"
        name = fields.InstanceHashField(unique=True)
        city = fields.InstanceHashField(indexable=True)
        nick = fields.StringField(default="anon")
        tags = fields.SetField()

    Person.use_database(database)
    database.load_scripts()
    return Person


def keyspace(database):
    return sorted(database.connection.keys())


def test_create_saves_every_value_and_defaults(Person, database):
    person = Person(name="Ann", city="Paris", tags=["a", "b"])
    assert person.pk.get() == "1"
    assert person.hmget("name", "city") == ["Ann", "Paris"]
    assert person.nick.get() == "anon"
    assert person.tags.smembers() == {"a", "b"}
    assert consistency_check(Person) == []


def test_connect_to_existing_and_missing(Person):
    Person(name="Ann")
    assert Person(1).name.hget() == "Ann"
    assert Person("1") == Person(1)
    with pytest.raises(Person.DoesNotExist):
        Person(2)


def test_empty_instance_is_unsaved_until_first_write(database):
    class Empty(RedisModel):
        namespace = "instances"
        stuff = fields.SetField()

    Empty.use_database(database)
    empty = Empty()
    assert empty.pk.get() is None
    assert keyspace(database) == []
    assert empty.stuff.sadd("foo", "bar") == 2
    assert empty.pk.get() == "1"
    assert Empty.exists(1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"nope": 1}, ImplementationError, "Person has no field 'nope'"),
        ({"name": None}, InvalidValue, "Person.name cannot store None"),
        ({"name": {"a": 1}}, InvalidValue, "Person.name cannot store a value of type dict"),
        ({"name": ["a"]}, InvalidValue, "Person.name cannot store a value of type list"),
        ({"name": True}, InvalidValue, "Person.name cannot store True"),
        ({"tags": "abc"}, InvalidValue, "Person.tags needs an iterable"),
        ({"tags": [["nested"]]}, InvalidValue, "Person.tags cannot store a value of type list"),
        ({"pk": 3}, ImplementationError, "AutoPKField"),
    ],
)
def test_bad_creation_raises_before_any_write(Person, database, kwargs, error, message):
    Person(name="first")
    before = keyspace(database)
    with pytest.raises(error, match=message):
        Person(**kwargs)
    assert keyspace(database) == before


def test_failed_create_leaves_no_trace_and_consumes_no_pk(Person, database):
    Person(name="Ann", city="Paris")
    before = {key: database.connection.dump(key) for key in keyspace(database)}
    with pytest.raises(UniquenessError, match="Person.name value 'Ann' already exists"):
        Person(name="Ann", city="Rome", tags=["x"])
    assert {key: database.connection.dump(key) for key in keyspace(database)} == before
    assert Person(name="Bob").pk.get() == "2"


def test_pk_with_bad_arguments(Person):
    with pytest.raises(ImplementationError, match="one pk"):
        Person(1, name="x")
    with pytest.raises(ImplementationError, match="one pk, or filters"):
        Person.get(1, name="x")


def test_get_exists_lazy_connect_from_pks(Person):
    ann, bob = Person(name="Ann"), Person(name="Bob")
    assert Person.get(1) == ann and Person.get(pk=2) == bob
    assert Person.exists(1) and Person.exists(pk="2") and not Person.exists(3)
    lazy = Person.lazy_connect(3)
    with pytest.raises(Person.DoesNotExist):
        lazy.name.hset("x")
    assert [p.pk.get() for p in Person.from_pks([1, 3, 2])] == ["1", "2"]
    assert [p.pk.get() for p in Person.from_pks([1, 3], lazy=True)] == ["1", "3"]
    assert sorted(p.pk.get() for p in Person.instances()) == ["1", "2"]


def test_get_or_connect_with_pk(Person):
    Person(name="Ann")
    instance, created = Person.get_or_connect(pk=1)
    assert (instance.pk.get(), created) == ("1", False)


def test_delete_removes_every_key_and_index_entry(Person, database):
    ann = Person(name="Ann", city="Paris", tags=["a"])
    bob = Person(name="Bob", city="Paris")
    ann_keys = set(ann.scan_keys())
    assert ann_keys == {
        Person._meta.keys.instance_hash("1"),
        Person._meta.keys.field("nick", "1"),
        Person._meta.keys.field("tags", "1"),
    }
    assert ann.delete() is True
    assert not ann_keys & set(keyspace(database))
    assert not Person.exists(1)
    assert consistency_check(Person) == []
    assert ann.delete() is False
    assert bob.name.hget() == "Bob"
    with pytest.raises(Person.DoesNotExist):
        ann.city.hset("Rome")
    assert not Person.exists(1)


def test_instance_get_field_is_bound(Person):
    ann = Person(name="Ann")
    assert ann.get_field("name").hget() == "Ann"
    assert ann.name is ann.name
    assert Person.get_field("name").instance is None


def test_scan_model_keys_sees_only_this_model(database):
    def make(name, namespace):
        model = type(
            name,
            (RedisModel,),
            {"namespace": namespace, "__module__": __name__, "value": fields.StringField()},
        )
        model.use_database(database)
        return model

    foo, foobar, other_foo = make("Foo", "scan"), make("FooBar", "scan"), make("Foo", "scan2")
    for model in (foo, foobar, other_foo):
        model(value="x*?[]{}")
    database.connection.set("{scan:Foo}*", "not a model key")
    assert sorted(foo.scan_model_keys()) == sorted(
        [foo._meta.keys.pks, foo._meta.keys.max_pk, foo._meta.keys.field("value", "1")]
    )


def test_round_trips_of_basic_operations(Person, database):
    with assert_num_commands(1, database, round_trips=1):
        ann = Person(name="Ann", city="Paris", tags=["a"])
    with assert_num_commands(1, database):
        Person(1)
    with assert_num_commands(0, database):
        lazy = Person.lazy_connect(1)
        assert lazy.pk.get() == "1"
    with assert_num_commands(1, database):
        ann.name.hget()
    with assert_num_commands(1, database):
        ann.hmget("name", "city")
    with assert_num_commands(1, database):
        ann.city.hset("Rome")
    with assert_num_commands(1, database):
        ann.hmset(name="Anna", city="Oslo")
    with assert_num_commands(1, database):
        list(Person.from_pks([1, 2]))
    with assert_num_commands(1, database):
        ann.delete()


def test_assert_num_commands_lists_commands_on_failure(Person, database):
    ann = Person(name="Ann")
    expected = r"2 commands sent, 1 expected:\n1\. HGET"
    with pytest.raises(AssertionError, match=expected) as info, assert_num_commands(1, database):
        ann.name.hget()
        ann.city.hget()
    assert "2. HGET" in str(info.value)
