"""SetField (not indexed): every command, compared with redis-py on a plain key.

Each command is sent both through the field and through the database's redis-py
client on a scratch key holding the same members; the results must be equal and
of the same type, and the stored members identical afterwards.
"""

from __future__ import annotations

import datetime
import types

import pytest

from django_limpyd import fields, model
from django_limpyd.exceptions import DoesNotExist, ImplementationError, InvalidValue
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_set"
SCRATCH = "t_set_scratch"
MEMBERS = {"3", "1", "2", "10"}


@pytest.fixture
def Example(database):
    db = database

    class Example(model.RedisModel):
        database = db
        namespace = NAMESPACE
        stuff = fields.SetField()

    return Example


def raw(connection, key):
    """What Redis holds at ``key`` (``None`` when there is no such key)."""
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "set", f"{key} is a {kind}"
    return connection.smembers(key)


def field_key(example, name="stuff"):
    return type(example)._meta.keys.field(name, example.pk.get())


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


# -- the seed ---------------------------------------------------------------------------


def test_seed_example(Example, database):
    example = Example()
    assert example.stuff.sadd("foo", "bar") == 2  # number of values really added to the set
    assert example.stuff.smembers() == {"foo", "bar"}
    assert example.stuff.sismember("bar") == True  # noqa: E712 - the seed shows True
    assert example.stuff.srem("bar") == True  # noqa: E712
    assert example.stuff.smembers() == {"foo"}
    assert example.stuff.delete() == True  # noqa: E712
    assert raw(database.connection, field_key(example)) is None


def test_declared_commands():
    assert set(fields.SetField.read_commands) >= {
        "scard", "sismember", "smembers", "srandmember", "ttl", "pttl",
    }  # fmt: skip
    assert set(fields.SetField.write_commands) >= {
        "sadd", "spop", "srem", "expire", "pexpire", "expireat", "pexpireat", "persist",
    }  # fmt: skip
    for name in ("sscan", "sort", "delete"):
        assert callable(getattr(fields.SetField, name))


# -- reads ------------------------------------------------------------------------------

READS = [
    ("scard", (), {}),
    ("sismember", ("1",), {}),
    ("sismember", ("nope",), {}),
    ("smembers", (), {}),
    ("sort", (), {}),
    ("sort", (), {"desc": True}),
    ("sort", (), {"alpha": True}),
    ("sort", (), {"start": 1, "num": 2}),
    ("sort", (), {"alpha": True, "desc": True, "start": 0, "num": 3}),
    ("ttl", (), {}),
    ("pttl", (), {}),
]


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


@pytest.mark.parametrize("initial", [MEMBERS, set()], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), READS, ids=_ids(READS))
def test_read_like_redis_py(Example, database, initial, command, args, kwargs):
    connection = database.connection
    example = Example(stuff=initial)
    if initial:
        connection.sadd(SCRATCH, *initial)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.stuff, command)(*args, **kwargs)
    assert_same(got, expected)
    assert raw(connection, field_key(example)) == (initial or None)


def test_srandmember(Example, database):
    example = Example(stuff=MEMBERS)
    one = example.stuff.srandmember()
    assert type(one) is str and one in MEMBERS
    two = example.stuff.srandmember(2)
    assert type(two) is list and len(set(two)) == 2 and set(two) <= MEMBERS
    repeated = example.stuff.srandmember(-6)
    assert type(repeated) is list and len(repeated) == 6 and set(repeated) <= MEMBERS
    assert example.stuff.srandmember(10) and set(example.stuff.srandmember(10)) == MEMBERS
    assert raw(database.connection, field_key(example)) == MEMBERS
    empty = Example(stuff=[])
    assert_same(empty.stuff.srandmember(), database.connection.srandmember(SCRATCH))
    assert_same(empty.stuff.srandmember(3), database.connection.srandmember(SCRATCH, 3))


def test_sscan_is_a_generator(Example, database):
    members = {f"m{i}" for i in range(50)} | {"other"}
    example = Example(stuff=members)
    database.connection.sadd(SCRATCH, *members)
    scan = example.stuff.sscan()
    assert isinstance(scan, types.GeneratorType)
    got = list(scan)
    assert all(type(member) is str for member in got)
    assert sorted(got) == sorted(members)
    assert sorted(example.stuff.sscan(match="m1*")) == sorted(
        database.connection.sscan_iter(SCRATCH, match="m1*")
    )
    assert sorted(example.stuff.sscan(count=5)) == sorted(members)
    assert list(Example(stuff=[]).stuff.sscan()) == []


def test_sort_store_refused(Example, database):
    example = Example(stuff=MEMBERS)
    before = keyspace(database)
    with pytest.raises(ImplementationError, match="store"):
        example.stuff.sort(store="elsewhere")
    with pytest.raises(ImplementationError, match="store"):
        example.stuff.sort(None, None, None, None, False, False, "elsewhere")
    assert keyspace(database) == before


@pytest.mark.standalone  # SORT BY/GET patterns: refused by a Redis Cluster
def test_sort_by_and_get_external_keys(Example, database):
    connection = database.connection
    example = Example(stuff=["a", "b", "c"])
    connection.sadd(SCRATCH, "a", "b", "c")
    connection.mset({"t_set_w_a": 3, "t_set_w_b": 1, "t_set_w_c": 2, "t_set_v_a": "A"})
    for kwargs in ({"by": "t_set_w_*"}, {"by": "t_set_w_*", "get": ["#", "t_set_v_*"]}):
        assert_same(example.stuff.sort(**kwargs), connection.sort(SCRATCH, **kwargs))


# -- writes -----------------------------------------------------------------------------

WRITES = [
    ("sadd", ("new",), {}),
    ("sadd", ("1", "new", "other"), {}),
    ("sadd", ("1",), {}),
    ("sadd", (7, 2.5), {}),
    ("srem", ("1",), {}),
    ("srem", ("1", "nope"), {}),
    ("srem", ("nope",), {}),
    ("srem", ("3", "1", "2", "10"), {}),
    ("spop", (0,), {}),
    ("delete", (), {}),
    ("expire", (100,), {}),
    ("pexpire", (100000,), {}),
    ("persist", (), {}),
]


@pytest.mark.parametrize("initial", [MEMBERS, set()], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py(Example, database, initial, command, args, kwargs):
    connection = database.connection
    example = Example(stuff=initial)
    if initial:
        connection.sadd(SCRATCH, *initial)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.stuff, command)(*args, **kwargs)
    assert_same(got, expected)
    key = field_key(example)
    assert raw(connection, key) == raw(connection, SCRATCH)
    assert connection.ttl(key) == connection.ttl(SCRATCH)


@pytest.mark.parametrize("count", [2, 4, 10])
def test_spop_count(Example, database, count):
    connection = database.connection
    example = Example(stuff=MEMBERS)
    connection.sadd(SCRATCH, *MEMBERS)
    expected = connection.spop(SCRATCH, count)
    popped = example.stuff.spop(count)
    assert type(popped) is type(expected) is list
    assert len(popped) == len(expected) == min(count, len(MEMBERS))
    assert set(popped) <= MEMBERS
    assert (raw(connection, field_key(example)) or set()) == MEMBERS - set(popped)


def test_spop_one(Example, database):
    example = Example(stuff=MEMBERS)
    popped = example.stuff.spop()
    assert type(popped) is str and popped in MEMBERS
    assert raw(database.connection, field_key(example)) == MEMBERS - {popped}
    empty = Example(stuff=[])
    assert_same(empty.stuff.spop(), database.connection.spop(SCRATCH))
    assert_same(empty.stuff.spop(2), database.connection.spop(SCRATCH, 2))


def test_expiry_commands(Example, database):
    connection = database.connection
    example = Example(stuff=MEMBERS)
    key = field_key(example)
    assert example.stuff.ttl() == -1
    assert example.stuff.expire(100) is True
    assert 0 < connection.ttl(key) <= 100
    assert 0 < example.stuff.ttl() <= 100
    assert 0 < example.stuff.pttl() <= 100000
    assert example.stuff.persist() is True
    assert example.stuff.ttl() == -1
    assert example.stuff.persist() is False
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=50)
    assert example.stuff.expireat(when) is True
    assert 0 < connection.ttl(key) <= 50
    assert example.stuff.pexpireat(when + datetime.timedelta(seconds=10)) is True
    assert 50 < connection.pttl(key) <= 60000
    assert example.stuff.pexpire(500) is True
    assert 0 < connection.pttl(key) <= 500
    assert raw(connection, key) == MEMBERS
    empty = Example(stuff=[])
    assert empty.stuff.expire(10) is False
    assert empty.stuff.ttl() == -2


# -- constructor and bad values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (["a", "b"], {"a", "b"}),
        ({"a", "b"}, {"a", "b"}),
        (("a", "a", "b"), {"a", "b"}),
        ((str(i) for i in range(3)), {"0", "1", "2"}),
        ([1, 2.5, "x"], {"1", "2.5", "x"}),
        (["été", "a:b*{c}"], {"été", "a:b*{c}"}),
    ],
    ids=["list", "set", "tuple-duplicates", "generator", "numbers", "unicode-and-specials"],
)
def test_constructor(Example, database, value, stored):
    example = Example(stuff=value)
    assert example.pk.get() == "1"
    assert raw(database.connection, field_key(example)) == stored
    assert example.stuff.smembers() == stored
    assert Example.exists(pk="1")


def test_constructor_empty_creates_the_instance_only(Example, database):
    example = Example(stuff=[])
    assert example.pk.get() is not None
    assert Example.exists(pk=example.pk.get())
    assert raw(database.connection, field_key(example)) is None
    assert example.stuff.smembers() == set()


@pytest.mark.parametrize(
    "value",
    ["ab", b"ab", None, [["a"]], ["a", None], {"a": 1}, 5, [True], [{"a"}], [object()]],
    ids=["str", "bytes", "None", "nested", "None-member", "dict", "int", "bool", "set-member",
         "object"],
)  # fmt: skip
def test_constructor_bad_value(Example, database, value):
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        Example(stuff=value)
    assert keyspace(database) == before


BAD_WRITE_ARGS = [(None,), (["a"],), ({"a"},), (True,), ("ok", None)]


@pytest.mark.parametrize("args", BAD_WRITE_ARGS, ids=repr)
def test_write_bad_value(Example, database, args):
    existing = Example(stuff=["a"])
    before = keyspace(database)
    with pytest.raises(InvalidValue):
        existing.stuff.sadd(*args)
    unsaved = Example()
    with pytest.raises(InvalidValue):
        unsaved.stuff.sadd(*args)
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert raw(database.connection, field_key(existing)) == {"a"}


@pytest.mark.parametrize("args", BAD_WRITE_ARGS, ids=repr)
def test_write_bad_value_names_the_field(Example, args):
    existing = Example(stuff=["a"])
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        existing.stuff.sadd(*args)


# -- instance lifecycle -----------------------------------------------------------------


def test_unsaved_instance_created_by_first_write(Example, database):
    example = Example()
    assert example.pk.get() is None
    assert keyspace(database) == []
    assert example.stuff.delete() == 0
    assert keyspace(database) == []
    assert example.stuff.sadd("foo", "bar") == 2
    pk = example.pk.get()
    assert pk == "1"
    assert Example.exists(pk=pk)
    assert set(database.connection.zrange(Example._meta.keys.pks, 0, -1)) == {pk}
    assert raw(database.connection, field_key(example)) == {"foo", "bar"}
    assert Example().stuff.sadd("x") == 1
    assert set(database.connection.zrange(Example._meta.keys.pks, 0, -1)) == {"1", "2"}


@pytest.mark.parametrize(
    ("command", "args"),
    [("sadd", ("b",)), ("srem", ("a",)), ("spop", ()), ("spop", (1,)), ("delete", ()),
     ("expire", (10,)), ("persist", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Example, database, command, args):
    example = Example(stuff=["a"])
    pk = example.pk.get()
    assert example.delete() is True
    before = keyspace(database)
    assert set(database.connection.zrange(Example._meta.keys.pks, 0, -1)) == set()
    lazy = Example.lazy_connect(pk)
    with pytest.raises(Example.DoesNotExist):
        getattr(lazy.stuff, command)(*args)
    with pytest.raises(DoesNotExist):
        getattr(example.stuff, command)(*args)
    assert keyspace(database) == before
    assert not Example.exists(pk=pk)


def test_instance_delete_removes_the_field(Example, database):
    example = Example(stuff=MEMBERS)
    other = Example(stuff=["x"])
    assert example.delete() is True
    assert raw(database.connection, Example._meta.keys.field("stuff", "1")) is None
    assert raw(database.connection, field_key(other)) == {"x"}
    assert example.delete() is False


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "kwargs"),
    [*READS, ("srandmember", (), {}), ("srandmember", (2,), {})],
    ids=[*_ids(READS), "srandmember()", "srandmember(2)"],
)
def test_read_is_one_command(Example, database, command, args, kwargs):
    example = Example(stuff=MEMBERS)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(example.stuff, command)(*args, **kwargs)
    with assert_num_commands(1, database, round_trips=1):
        list(example.stuff.sscan())


@pytest.mark.parametrize(
    ("command", "args", "kwargs"),
    [*WRITES, ("spop", (), {}), ("spop", (2,), {})],
    ids=[*_ids(WRITES), "spop()", "spop(2)"],
)
def test_write_is_one_evalsha(Example, database, command, args, kwargs):
    example = Example(stuff=MEMBERS)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1) as recorder:
        getattr(example.stuff, command)(*args, **kwargs)
    assert recorder.commands[0][0] in FUNCTION_CALLS


def test_creating_write_is_one_evalsha(Example, database):
    database.load_scripts()
    example = Example()
    with count_commands(database) as recorder:
        example.stuff.sadd("a", "b")
    assert recorder.num_commands == 1
    assert recorder.commands[0][0] in FUNCTION_CALLS


# -- many members -----------------------------------------------------------------------

MANY = [f"m{i}" for i in range(10000)]


def test_constructor_with_many_members(Example, database):
    example = Example(stuff=MANY)
    assert database.connection.scard(field_key(example)) == len(MANY)


def test_sadd_many_members(Example, database):
    connection = database.connection
    example = Example(stuff=["a"])
    connection.sadd(SCRATCH, "a")
    assert example.stuff.sadd(*MANY) == connection.sadd(SCRATCH, *MANY)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)


def test_every_declared_command_is_tested():
    """A command added to the field must be added to the tests above and below."""
    tested = {name for name, _args, _kwargs in READS + WRITES} | {
        "srandmember",
        "sscan",
        "expireat",
        "pexpireat",
    }
    declared = set(fields.SetField.read_commands) | set(fields.SetField.write_commands)
    assert declared <= tested
