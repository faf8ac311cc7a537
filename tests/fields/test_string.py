"""StringField without indexes: every command against redis-py, defaults, set options, expiry.

Each command's result is compared with what redis-py (``decode_responses=True``)
returns for the same command on a plain scratch key holding the same value, and
the raw key of the field is compared with the scratch key afterwards.
"""

from __future__ import annotations

import time

import pytest

from django_limpyd.exceptions import ImplementationError
from django_limpyd.fields import StringField
from django_limpyd.model import RedisModel

SCRATCH = "scratch:string"

READS = [
    ("get", ()),
    ("getbit", (1,)),
    ("getbit", (100,)),
    ("getrange", (0, 2)),
    ("getrange", (-3, -1)),
    ("strlen", ()),
    ("bitcount", ()),
    ("bitcount", (1, 2)),
    ("bitpos", (1,)),
    ("bitpos", (0, 1)),
]

#: (command, value held before, arguments)
WRITES = [
    ("append", "abc", ("def",)),
    ("append", None, ("x",)),
    ("decr", "10", ()),
    ("decr", None, ()),
    ("decrby", "10", (3,)),
    ("incr", "10", ()),
    ("incr", None, ()),
    ("incrby", "10", (5,)),
    ("incrby", "-2", (-3,)),
    ("incrbyfloat", "10.5", ("0.1",)),
    ("incrbyfloat", "3", (1.5,)),
    ("incrbyfloat", None, ("2.5",)),
    ("set", "a", ("b",)),
    ("set", None, ("é:*{}\n ",)),
    ("set", "a", (42,)),
    ("set", "a", (1.5,)),
    ("setbit", "a", (7, 0)),
    ("setbit", None, (10, 1)),
    ("setnx", "a", ("b",)),
    ("setnx", None, ("b",)),
    ("setrange", "Hello World", (6, "Redis")),
    ("setrange", None, (3, "x")),
    ("getset", "old", ("new",)),
    ("getset", None, ("new",)),
    ("delete", "a", ()),
    ("delete", None, ()),
]

EXPIRY_WRITES = [
    ("expire", lambda: (100,)),
    ("pexpire", lambda: (100_000,)),
    ("expireat", lambda: (int(time.time()) + 100,)),
    ("pexpireat", lambda: (int(time.time() * 1000) + 100_000,)),
    ("persist", lambda: ()),
]


@pytest.fixture
def Thing(database):
    db = database

    class StringThing(RedisModel):
        database = db
        namespace = "t_string"
        value = StringField()
        other = StringField()

    return StringThing


@pytest.fixture
def Bike(database):
    db = database

    class StringBike(RedisModel):
        database = db
        namespace = "t_string"
        name = StringField()
        wheels = StringField(default=2)

    return StringBike


@pytest.fixture
def thing(Thing):
    """An existing instance whose ``value`` is not set."""
    return Thing(other="exists")


def raw_key(instance, name="value"):
    return type(instance)._meta.keys.field(name, instance.pk.get())


def prepare(database, instance, value):
    """Give ``value`` to both the field and the scratch key (``None``: neither holds one)."""
    connection = database.connection
    connection.delete(SCRATCH)
    if value is not None:
        instance.value.set(value)
        connection.set(SCRATCH, value)
    else:
        instance.value.delete()


def assert_same(ours, theirs):
    assert ours == theirs
    assert type(ours) is type(theirs)


def all_keys(database):
    return sorted(database.connection.keys())


# -- every command, against redis-py -------------------------------------------------


def test_the_tables_below_cover_every_declared_command():
    covered_reads = {name for name, _args in READS} | {"ttl", "pttl"}
    covered_writes = {name for name, _v, _a in WRITES} | {n for n, _a in EXPIRY_WRITES}
    assert set(StringField.read_commands) == covered_reads
    assert set(StringField.write_commands) == covered_writes - {"delete"} | {"setex", "psetex"}


@pytest.mark.parametrize("initial", ["foobar", None])
@pytest.mark.parametrize(("command", "args"), READS)
def test_read_command_returns_what_redis_py_returns(database, thing, command, args, initial):
    prepare(database, thing, initial)
    ours = getattr(thing.value, command)(*args)
    theirs = getattr(database.connection, command)(SCRATCH, *args)
    assert_same(ours, theirs)


@pytest.mark.parametrize(("command", "initial", "args"), WRITES)
def test_write_command_returns_and_stores_what_redis_py_does(
    database, thing, command, initial, args
):
    prepare(database, thing, initial)
    ours = getattr(thing.value, command)(*args)
    theirs = getattr(database.connection, command)(SCRATCH, *args)
    assert_same(ours, theirs)
    stored = database.connection.get(raw_key(thing))
    assert stored == database.connection.get(SCRATCH)
    assert thing.value.get() == stored


def test_a_failing_redis_command_raises_redis_py_error_and_keeps_the_value(database, thing):
    import redis

    thing.value.set("not a number")
    with pytest.raises(redis.ResponseError):
        thing.value.incr()
    assert database.connection.get(raw_key(thing)) == "not a number"


def test_seed_example_get_set_delete(Thing):
    example = Thing(value="foo")
    assert example.value.get() == "foo"
    example.value.set("bar")
    assert example.value.get() == "bar"
    example.delete()
    assert not Thing.exists(example.pk.get())


def test_field_delete_removes_only_its_key(database, Thing):
    instance = Thing(value="v", other="o")
    assert instance.value.delete() == 1
    assert not database.connection.exists(raw_key(instance))
    assert database.connection.get(raw_key(instance, "other")) == "o"
    assert instance.value.get() is None


# -- defaults ---------------------------------------------------------------------------


def test_seed_default_is_stored_at_creation_as_a_string(database, Bike):
    bike = Bike(name="mountainbike")
    assert bike.wheels.get() == "2"
    assert database.connection.get(raw_key(bike, "wheels")) == "2"
    bike.wheels.incr()
    assert bike.wheels.get() == "3"


def test_a_given_value_wins_over_the_default(Bike):
    assert Bike(name="tricycle", wheels=3).wheels.get() == "3"


def test_defaults_alone_create_the_instance(database, Bike):
    bike = Bike()
    assert bike.pk.get() == "1"
    assert Bike.exists(bike.pk.get())
    assert database.connection.get(raw_key(bike, "wheels")) == "2"
    assert bike.name.get() is None


def test_no_values_nor_defaults_give_an_unsaved_instance_created_by_its_first_write(
    database,
    Thing,
):
    instance = Thing()
    assert instance.pk.get() is None
    assert all_keys(database) == []
    assert instance.value.set("first") is True
    assert instance.pk.get() == "1"
    assert Thing(instance.pk.get()).value.get() == "first"


# -- set options and expiry ------------------------------------------------------------


@pytest.mark.parametrize("flag", ["nx", "xx"])
def test_set_refuses_nx_and_xx(database, thing, flag):
    before = all_keys(database)
    with pytest.raises(ImplementationError, match="nx/xx"):
        thing.value.set("v", **{flag: True})
    assert all_keys(database) == before


@pytest.mark.parametrize(
    ("option", "amount", "ttl_command"), [("ex", 100, "ttl"), ("px", 100_000, "pttl")]
)
def test_set_accepts_ex_and_px_on_a_field_without_index(
    database, thing, option, amount, ttl_command
):
    assert thing.value.set("v", **{option: amount}) is True
    assert database.connection.get(raw_key(thing)) == "v"
    ttl = getattr(database.connection, ttl_command)(raw_key(thing))
    assert 0 < ttl <= amount
    assert 0 < getattr(thing.value, ttl_command)() <= amount


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    ("command", "amount", "ttl_command"), [("setex", 100, "ttl"), ("psetex", 100_000, "pttl")]
)
def test_setex_and_psetex_store_the_value_with_a_ttl(database, thing, command, amount, ttl_command):
    assert getattr(thing.value, command)(amount, "v") is True
    assert database.connection.get(raw_key(thing)) == "v"
    assert 0 < getattr(database.connection, ttl_command)(raw_key(thing)) <= amount


@pytest.mark.parametrize("with_ttl", [False, True])
@pytest.mark.parametrize("initial", ["v", None])
@pytest.mark.parametrize(("command", "make_args"), EXPIRY_WRITES)
def test_expiry_command_behaves_like_redis_py(
    database, thing, command, make_args, initial, with_ttl
):
    prepare(database, thing, initial)
    if initial is not None and with_ttl:
        thing.value.expire(50)
        database.connection.expire(SCRATCH, 50)
    args = make_args()
    assert_same(
        getattr(thing.value, command)(*args), getattr(database.connection, command)(SCRATCH, *args)
    )
    ours, theirs = database.connection.ttl(raw_key(thing)), database.connection.ttl(SCRATCH)
    assert (ours < 0, ours == -2) == (theirs < 0, theirs == -2)
    assert abs(ours - theirs) <= 1
    assert_same(thing.value.ttl(), database.connection.ttl(raw_key(thing)))
    assert abs(thing.value.pttl() - database.connection.pttl(SCRATCH)) < 2000
