"""InstanceHashField without indexes: every command against redis-py, the instance-level
hash methods (seed examples), defaults, refusals and bad input.

Each field is one entry (named like the field) of the instance's hash; results
are compared with redis-py (``decode_responses=True``) on a scratch hash.
"""

from __future__ import annotations

import pytest

from django_limpyd import exceptions
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields import InstanceHashField, StringField
from django_limpyd.model import RedisModel

SCRATCH = "scratch:hash"

#: (command, value held before, arguments)
COMMANDS = [
    ("hget", "v", ()),
    ("hget", None, ()),
    ("hset", "a", ("b",)),
    ("hset", None, ("b",)),
    ("hset", "a", (42,)),
    ("hset", "a", (1.5,)),
    ("hset", None, ("é:*{}\n ",)),
    ("hsetnx", "a", ("b",)),
    ("hsetnx", None, ("b",)),
    ("hincrby", "10", (5,)),
    ("hincrby", "10", (-12,)),
    ("hincrby", None, (3,)),
    ("hincrbyfloat", "10.5", ("0.1",)),
    ("hincrbyfloat", "3", (1.5,)),
    ("hincrbyfloat", None, (1.5,)),
    ("hdel", "a", ()),
    ("hdel", None, ()),
]

EXPIRY_CALLS = {
    "expire": lambda field: field.expire(100),
    "pexpire": lambda field: field.pexpire(100_000),
    "expireat": lambda field: field.expireat(4_000_000_000),
    "pexpireat": lambda field: field.pexpireat(4_000_000_000_000),
    "persist": lambda field: field.persist(),
    "ttl": lambda field: field.ttl(),
    "pttl": lambda field: field.pttl(),
}


@pytest.fixture
def Thing(database):
    db = database

    class HashThing(RedisModel):
        database = db
        namespace = "t_instancehash"
        value = InstanceHashField()
        other = InstanceHashField()
        text = StringField()

    return HashThing


@pytest.fixture
def Example(database):
    """The model of the seed's hmget/hmset/... examples."""
    db = database

    class Example(RedisModel):
        database = db
        namespace = "t_instancehash"
        foo = InstanceHashField()
        bar = InstanceHashField()
        baz = InstanceHashField()
        qux = InstanceHashField()

        def hmget_dict(self, *args):
            """A call to hmget but which return a dict with field names as keys."""
            values = self.hmget(*args)
            keys = args or self._meta.hash_fields
            return dict(zip(keys, values, strict=True))

    return Example


def hash_key(instance):
    return type(instance)._meta.keys.instance_hash(instance.pk.get())


def value_id(value):
    """A test id that is the same in every xdist worker (no memory address)."""
    return "object()" if type(value) is object else repr(value)


def all_keys(database):
    return sorted(database.connection.keys())


# -- every command, against redis-py -------------------------------------------------


def test_the_table_covers_every_declared_command():
    covered = {name for name, _initial, _args in COMMANDS} | set(EXPIRY_CALLS)
    assert set(InstanceHashField.read_commands) | set(InstanceHashField.write_commands) == covered


@pytest.mark.parametrize(("command", "initial", "args"), COMMANDS)
def test_command_returns_and_stores_what_redis_py_does(database, Thing, command, initial, args):
    instance = Thing(other="untouched") if initial is None else Thing(value=initial, other="o")
    connection = database.connection
    connection.hset(SCRATCH, "other", "untouched")
    if initial is not None:
        connection.hset(SCRATCH, "value", initial)
    ours = getattr(instance.value, command)(*args)
    theirs = getattr(connection, command)(SCRATCH, "value", *args)
    assert ours == theirs
    assert type(ours) is type(theirs)
    assert connection.hget(hash_key(instance), "value") == connection.hget(SCRATCH, "value")
    assert instance.value.hget() == connection.hget(SCRATCH, "value")
    assert connection.hget(hash_key(instance), "other") in ("untouched", "o")


def test_every_field_is_an_entry_of_the_one_instance_hash(database, Thing):
    instance = Thing(value="a", other="b", text="t")
    pk = instance.pk.get()
    connection = database.connection
    assert connection.hgetall(hash_key(instance)) == {"value": "a", "other": "b"}
    assert not connection.exists(Thing._meta.keys.field("value", pk))
    assert connection.get(Thing._meta.keys.field("text", pk)) == "t"


def test_field_delete_is_hdel_and_keeps_the_other_entries(database, Thing):
    instance = Thing(value="a", other="b")
    assert instance.value.delete() == 1
    assert instance.value.delete() == 0
    assert database.connection.hgetall(hash_key(instance)) == {"other": "b"}
    instance.other.hdel()
    assert not database.connection.exists(hash_key(instance))
    assert Thing.exists(instance.pk.get())


def test_a_failing_redis_command_raises_redis_py_error_and_keeps_the_value(database, Thing):
    import redis

    instance = Thing(value="not a number")
    with pytest.raises(redis.ResponseError):
        instance.value.hincrby(1)
    assert database.connection.hget(hash_key(instance), "value") == "not a number"


# -- defaults and creation -----------------------------------------------------------------


def test_default_is_stored_at_creation_as_a_string(database):
    db = database

    class HashDefaults(RedisModel):
        database = db
        namespace = "t_instancehash"
        color = InstanceHashField(default="red")
        wheels = InstanceHashField(default=2)
        name = InstanceHashField()

    made = HashDefaults(name="bike")
    assert made.hgetall() == {"color": "red", "wheels": "2", "name": "bike"}
    assert HashDefaults(color="blue").color.hget() == "blue"
    assert HashDefaults().hgetall() == {"color": "red", "wheels": "2"}


def test_hset_on_an_unsaved_instance_creates_it(database, Thing):
    instance = Thing()
    assert instance.pk.get() is None
    assert instance.value.hset("first") == 1
    assert instance.pk.get() == "1"
    assert Thing(instance.pk.get()).value.hget() == "first"


# -- the seed examples ------------------------------------------------------------------


def test_seed_bike_example(database):
    db = database

    class Bike(RedisModel):
        database = db
        namespace = "t_instancehash"
        name = InstanceHashField(indexable=True, unique=True)
        color = InstanceHashField()
        wheels = StringField(default=2)

    mountainbike = Bike(name="mountainbike")
    assert mountainbike.wheels.get() == "2"
    mountainbike.wheels.incr()
    assert mountainbike.wheels.get() == "3"
    mountainbike.name.hset("tricycle")
    tricycle = Bike(Bike.collection(name="tricycle")[0])
    assert tricycle.wheels.get() == "3"
    assert tricycle.hmset(color="blue") is True
    assert tricycle.hmget("color") == ["blue"]
    assert tricycle.hmget("color", "name") == ["blue", "tricycle"]
    assert tricycle.color.hget() == "blue"
    assert tricycle.color.hset("yellow") == 0  # redis-py: 0 = an existing entry updated
    assert tricycle.hmget("color") == ["yellow"]


def test_seed_simple_commands(Example):
    example = Example()
    assert example.foo.hset("FOO") == 1  # 1 because the hash field was created
    assert example.foo.hget() == "FOO"


def test_seed_hmget(Example):
    example = Example(foo="FOO", bar="BAR")
    assert example.hmget("foo", "bar") == ["FOO", "BAR"]
    assert example.hmget_dict("foo", "bar") == {"bar": "BAR", "foo": "FOO"}
    assert example.hmget() == []


def test_seed_hmset(Example):
    example = Example()
    assert example.hmset(foo="FOO", bar="BAR") is True
    assert example.hmget("foo", "bar") == ["FOO", "BAR"]


def test_seed_hdel(Example):
    example = Example()
    assert example.hmset(foo="FOO", bar="BAR", baz="BAZ") is True
    assert example.hmget("foo", "bar", "baz") == ["FOO", "BAR", "BAZ"]
    assert example.hdel("foo", "bar", "qux") == 2
    assert example.hmget("foo", "bar", "baz") == [None, None, "BAZ"]
    assert example.baz.hdel() == 1


def test_seed_hgetall(Example):
    example = Example(foo="FOO", bar="BAR")
    assert example.hgetall() == {"foo": "FOO", "bar": "BAR"}
    example.foo.hdel()
    assert example.hgetall() == {"bar": "BAR"}


def test_seed_hkeys(Example):
    example = Example(foo="FOO", bar="BAR")
    assert sorted(example.hkeys()) == ["bar", "foo"]
    example.foo.hdel()
    assert example.hkeys() == ["bar"]


def test_seed_hvals(Example):
    example = Example(foo="FOO", bar="BAR")
    assert sorted(example.hvals()) == ["BAR", "FOO"]
    example.foo.hdel()
    assert example.hvals() == ["BAR"]


def test_seed_hlen(Example):
    example = Example(foo="FOO", bar="BAR")
    assert example.hlen() == 2
    example.foo.hdel()
    assert example.hlen() == 1


def test_instance_methods_return_what_redis_py_returns(database, Example):
    example = Example(foo="FOO", bar="BAR")
    connection = database.connection
    connection.hset(SCRATCH, mapping={"foo": "FOO", "bar": "BAR"})
    assert example.hmget("bar", "qux", "foo") == connection.hmget(SCRATCH, ["bar", "qux", "foo"])
    assert example.hgetall() == connection.hgetall(SCRATCH)
    assert example.hkeys() == connection.hkeys(SCRATCH)
    assert example.hvals() == connection.hvals(SCRATCH)
    assert example.hlen() == connection.hlen(SCRATCH)
    assert example.hdel("foo", "qux") == connection.hdel(SCRATCH, "foo", "qux")
    assert database.connection.hgetall(hash_key(example)) == connection.hgetall(SCRATCH)


# -- refusals and bad input ---------------------------------------------------------------


@pytest.mark.parametrize("call", EXPIRY_CALLS)
def test_expiry_commands_are_refused(database, Thing, call):
    instance = Thing(value="kept")
    keys_before = all_keys(database)
    with pytest.raises(ImplementationError, match="HashThing.value"):
        EXPIRY_CALLS[call](instance.value)
    assert all_keys(database) == keys_before
    assert database.connection.ttl(hash_key(instance)) == -1


@pytest.mark.parametrize(
    ("method", "names"),
    [("hmget", ("value", "nope")), ("hdel", ("nope",)), ("hmget", ("text",)), ("hdel", ("text",))],
)
def test_instance_hash_method_with_a_name_that_is_no_instance_hash_field_is_refused(
    Thing, method, names
):
    instance = Thing(value="kept", text="t")
    with pytest.raises(ImplementationError, match=repr(names[-1])):
        getattr(instance, method)(*names)
    assert instance.value.hget() == "kept"


@pytest.mark.parametrize("wrong", ["nope", "text"])
def test_hmset_of_an_unknown_or_non_hash_field_is_refused_naming_it_and_writes_nothing(
    database, Thing, wrong
):
    instance = Thing(value="kept", text="t")
    keys_before = all_keys(database)
    with pytest.raises(ImplementationError, match=repr(wrong)):
        instance.hmset(value="new", other="new", **{wrong: "x"})
    assert all_keys(database) == keys_before
    assert instance.hgetall() == {"value": "kept"}
    assert instance.text.get() == "t"


def test_hmset_without_values_is_refused(Thing):
    instance = Thing(value="kept")
    with pytest.raises(InvalidValue):
        instance.hmset()


BAD_VALUES = [None, {"a": 1}, ["a"], True, False, [["nested"]], ("t",), {"s"}, object()]

WAYS_TO_STORE = {
    "create": lambda model, instance, bad: model(value=bad),
    "hset": lambda model, instance, bad: instance.value.hset(bad),
    "hsetnx": lambda model, instance, bad: instance.value.hsetnx(bad),
    "hmset": lambda model, instance, bad: instance.hmset(other="fine", value=bad),
    "hincrby": lambda model, instance, bad: instance.value.hincrby(bad),
    "hincrbyfloat": lambda model, instance, bad: instance.value.hincrbyfloat(bad),
}


@pytest.mark.parametrize(
    ("way", "bad"),
    [
        pytest.param(way, bad, id=f"{way}-{value_id(bad)}")
        for way in WAYS_TO_STORE
        for bad in [*BAD_VALUES, b"\xff"]
        # a bytes amount is Redis's to refuse (not an integer), as with redis-py
        if not (way.startswith("hincr") and isinstance(bad, bytes))
    ],
)
def test_bad_value_raises_invalid_value_naming_the_field_before_any_write(
    database, Thing, way, bad
):
    instance = Thing(value="7")
    keys_before = all_keys(database)
    with pytest.raises(InvalidValue) as caught:
        WAYS_TO_STORE[way](Thing, instance, bad)
    assert "HashThing.value" in str(caught.value)
    assert all_keys(database) == keys_before
    assert instance.hgetall() == {"value": "7"}


@pytest.mark.parametrize("way", ["create", "hset", "hmset"])
def test_a_str_that_utf8_cannot_encode_raises_invalid_value_naming_the_field(database, Thing, way):
    instance = Thing(value="7")
    keys_before = all_keys(database)
    with pytest.raises(InvalidValue, match="HashThing.value"):
        WAYS_TO_STORE[way](Thing, instance, "\ud800")
    assert all_keys(database) == keys_before


# -- writes to a deleted instance --------------------------------------------------------

WRITES_ON_DELETED = {
    "hset": lambda instance: instance.value.hset("x"),
    "hsetnx": lambda instance: instance.value.hsetnx("x"),
    "hincrby": lambda instance: instance.value.hincrby(2),
    "hincrbyfloat": lambda instance: instance.value.hincrbyfloat("1.5"),
    "hdel": lambda instance: instance.value.hdel(),
    "delete": lambda instance: instance.value.delete(),
    "instance_hmset": lambda instance: instance.hmset(value="x", other="y"),
    "instance_hdel": lambda instance: instance.hdel("value", "other"),
}


@pytest.mark.parametrize("handle", ["lazy_connect", "second_handle"])
@pytest.mark.parametrize("write", WRITES_ON_DELETED)
def test_write_to_an_instance_deleted_meanwhile_raises_does_not_exist_and_writes_nothing(
    database, Thing, write, handle
):
    instance = Thing(value="1", other="o")
    pk = instance.pk.get()
    stale = Thing(pk) if handle == "second_handle" else None
    instance.delete()
    if stale is None:
        stale = Thing.lazy_connect(pk)
    Thing(value="survivor")
    keys_before = all_keys(database)
    with pytest.raises(Thing.DoesNotExist) as caught:
        WRITES_ON_DELETED[write](stale)
    assert isinstance(caught.value, exceptions.DoesNotExist)
    assert all_keys(database) == keys_before
