"""ListField (not indexed): every command, compared with redis-py on a plain key.

Each command is sent both through the field and through the database's redis-py
client on a scratch key holding the same list; the results must be equal and of
the same type, and the stored lists identical afterwards.
"""

from __future__ import annotations

import datetime
import types

import pytest
from redis.exceptions import ResponseError

from django_limpyd import fields, model
from django_limpyd.exceptions import DoesNotExist, ImplementationError, InvalidValue
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_list"
SCRATCH = "t_list_scratch"
ITEMS = ["a", "b", "a", "c", "10", "2"]


@pytest.fixture
def Example(database):
    db = database

    class Example(model.RedisModel):
        database = db
        namespace = NAMESPACE
        stuff = fields.ListField()

    return Example


def raw(connection, key):
    """What Redis holds at ``key`` (``None`` when there is no such key)."""
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "list", f"{key} is a {kind}"
    return connection.lrange(key, 0, -1)


def field_key(example, name="stuff"):
    return type(example)._meta.keys.field(name, example.pk.get())


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


# -- the seed ---------------------------------------------------------------------------


def test_seed_example(Example, database):
    example = Example()
    assert example.stuff.rpush("foo", "bar") == 2  # number of values added to the list
    assert example.stuff.lrange(0, -1) == ["foo", "bar"]
    assert example.stuff.lindex(1) == "bar"
    assert example.stuff.lrem(1, "bar") == 1  # number of values really removed
    assert example.stuff.lrange(0, -1) == ["foo"]
    assert example.stuff.delete() == True  # noqa: E712 - the seed shows True
    assert raw(database.connection, field_key(example)) is None


def test_declared_commands():
    assert set(fields.ListField.read_commands) >= {"lindex", "llen", "lrange", "ttl", "pttl"}
    assert set(fields.ListField.write_commands) >= {
        "linsert", "lpop", "lpush", "lpushx", "lrem", "lset", "ltrim", "rpop", "rpush",
        "rpushx", "expire", "pexpire", "expireat", "pexpireat", "persist",
    }  # fmt: skip
    for name in ("sort", "lcontains", "lcount", "lrank", "delete"):
        assert callable(getattr(fields.ListField, name))


# -- reads ------------------------------------------------------------------------------

READS = [
    ("lindex", (0,), {}),
    ("lindex", (-1,), {}),
    ("lindex", (99,), {}),
    ("llen", (), {}),
    ("lrange", (0, -1), {}),
    ("lrange", (1, 2), {}),
    ("lrange", (10, 20), {}),
    ("sort", (), {"alpha": True}),
    ("sort", (), {"alpha": True, "desc": True, "start": 1, "num": 3}),
    ("ttl", (), {}),
    ("pttl", (), {}),
]


@pytest.mark.parametrize("initial", [ITEMS, []], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), READS, ids=_ids(READS))
def test_read_like_redis_py(Example, database, initial, command, args, kwargs):
    connection = database.connection
    example = Example(stuff=initial)
    if initial:
        connection.rpush(SCRATCH, *initial)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.stuff, command)(*args, **kwargs)
    assert_same(got, expected)
    assert raw(connection, field_key(example)) == (initial or None)


def test_numeric_sort(Example, database):
    example = Example(stuff=["3", "10", "-1", "2.5"])
    database.connection.rpush(SCRATCH, "3", "10", "-1", "2.5")
    assert example.stuff.sort() == ["-1", "2.5", "3", "10"]
    assert_same(example.stuff.sort(desc=True), database.connection.sort(SCRATCH, desc=True))
    with pytest.raises(ResponseError):  # as redis-py: "a" is not a number
        Example(stuff=["a"]).stuff.sort()


@pytest.mark.parametrize("value", ["a", "b", "c", "10", "nope", 10])
def test_lcontains_lcount_lrank(Example, database, value):
    connection = database.connection
    example = Example(stuff=ITEMS)
    connection.rpush(SCRATCH, *ITEMS)
    assert_same(example.stuff.lrank(value), connection.lpos(SCRATCH, value))
    assert_same(example.stuff.lcount(value), len(connection.lpos(SCRATCH, value, count=0)))
    assert_same(example.stuff.lcontains(value), connection.lpos(SCRATCH, value) is not None)
    assert example.stuff.lcount(value) == ITEMS.count(str(value))
    assert example.stuff.lcontains(value) is (str(value) in ITEMS)
    empty = Example(stuff=[])
    assert empty.stuff.lrank(value) is None
    assert empty.stuff.lcount(value) == 0
    assert empty.stuff.lcontains(value) is False


def test_sort_store_refused(Example, database):
    example = Example(stuff=ITEMS)
    before = keyspace(database)
    with pytest.raises(ImplementationError, match="store"):
        example.stuff.sort(alpha=True, store="elsewhere")
    assert keyspace(database) == before


@pytest.mark.standalone  # SORT BY/GET patterns: refused by a Redis Cluster
def test_sort_by_and_get_external_keys(Example, database):
    connection = database.connection
    example = Example(stuff=["a", "b", "c"])
    connection.rpush(SCRATCH, "a", "b", "c")
    connection.mset({"t_list_w_a": 3, "t_list_w_b": 1, "t_list_w_c": 2, "t_list_v_a": "A"})
    for kwargs in ({"by": "t_list_w_*"}, {"by": "t_list_w_*", "get": ["#", "t_list_v_*"]}):
        assert_same(example.stuff.sort(**kwargs), connection.sort(SCRATCH, **kwargs))


# -- writes -----------------------------------------------------------------------------

WRITES = [
    ("lpush", ("x",), {}),
    ("lpush", ("x", "y", 3), {}),
    ("rpush", ("x",), {}),
    ("rpush", ("x", "a", 2.5), {}),
    ("lpushx", ("x",), {}),
    ("lpushx", ("x", "y"), {}),
    ("rpushx", ("x",), {}),
    ("rpushx", ("x", "y"), {}),
    ("linsert", ("before", "a", "x"), {}),
    ("linsert", ("AFTER", "c", "x"), {}),
    ("linsert", ("after", "nope", "x"), {}),
    ("lpop", (), {}),
    ("lpop", (2,), {}),
    ("lpop", (20,), {}),
    ("rpop", (), {}),
    ("rpop", (3,), {}),
    ("lrem", (0, "a"), {}),
    ("lrem", (1, "a"), {}),
    ("lrem", (-1, "a"), {}),
    ("lrem", (1, "nope"), {}),
    ("ltrim", (1, 2), {}),
    ("ltrim", (0, -1), {}),
    ("ltrim", (5, 1), {}),
    ("delete", (), {}),
    ("expire", (100,), {}),
    ("pexpire", (100000,), {}),
    ("persist", (), {}),
]


@pytest.mark.parametrize("initial", [ITEMS, []], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py(Example, database, initial, command, args, kwargs):
    connection = database.connection
    example = Example(stuff=initial)
    if initial:
        connection.rpush(SCRATCH, *initial)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.stuff, command)(*args, **kwargs)
    assert_same(got, expected)
    key = field_key(example)
    assert raw(connection, key) == raw(connection, SCRATCH)
    assert connection.ttl(key) == connection.ttl(SCRATCH)


@pytest.mark.parametrize(("index", "value"), [(0, "x"), (-1, "y"), (2, 7)])
def test_lset(Example, database, index, value):
    connection = database.connection
    example = Example(stuff=ITEMS)
    connection.rpush(SCRATCH, *ITEMS)
    assert_same(example.stuff.lset(index, value), connection.lset(SCRATCH, index, value))
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)


def test_lset_out_of_range_is_redis_error(Example, database):
    example = Example(stuff=ITEMS)
    before = keyspace(database)
    with pytest.raises(ResponseError, match="out of range"):
        example.stuff.lset(99, "x")
    assert raw(database.connection, field_key(example)) == ITEMS
    unsaved = Example()
    with pytest.raises(ResponseError, match="no such key"):
        unsaved.stuff.lset(0, "x")
    assert unsaved.pk.get() is None
    assert keyspace(database) == before


def test_expiry_commands(Example, database):
    connection = database.connection
    example = Example(stuff=ITEMS)
    key = field_key(example)
    assert example.stuff.ttl() == -1
    assert example.stuff.expire(100) is True
    assert 0 < example.stuff.ttl() <= 100
    assert 0 < example.stuff.pttl() <= 100000
    assert example.stuff.persist() is True
    assert example.stuff.ttl() == -1
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=50)
    assert example.stuff.expireat(when) is True
    assert 0 < connection.ttl(key) <= 50
    assert example.stuff.pexpireat(when + datetime.timedelta(seconds=10)) is True
    assert 50 < connection.pttl(key) <= 60000
    assert example.stuff.pexpire(500) is True
    assert 0 < connection.pttl(key) <= 500
    assert raw(connection, key) == ITEMS
    empty = Example(stuff=[])
    assert empty.stuff.expire(10) is False
    assert empty.stuff.ttl() == -2


# -- constructor and bad values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (["a", "b"], ["a", "b"]),
        (("b", "a", "b"), ["b", "a", "b"]),
        ((str(i) for i in range(3)), ["0", "1", "2"]),
        ([1, 2.5, "x"], ["1", "2.5", "x"]),
        (["été", "a:b*{c}", ""], ["été", "a:b*{c}", ""]),
    ],
    ids=["list", "tuple-duplicates", "generator", "numbers", "unicode-specials-empty"],
)
def test_constructor(Example, database, value, stored):
    example = Example(stuff=value)
    assert example.pk.get() == "1"
    assert raw(database.connection, field_key(example)) == stored
    assert example.stuff.lrange(0, -1) == stored


def test_constructor_empty_creates_the_instance_only(Example, database):
    example = Example(stuff=[])
    assert Example.exists(pk=example.pk.get())
    assert raw(database.connection, field_key(example)) is None


@pytest.mark.parametrize(
    "value",
    ["ab", b"ab", None, [["a"]], ["a", None], {"a": 1}, 5, [True], [("a",)]],
    ids=["str", "bytes", "None", "nested", "None-member", "dict", "int", "bool", "tuple-member"],
)
def test_constructor_bad_value(Example, database, value):
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        Example(stuff=value)
    assert keyspace(database) == before


BAD_WRITES = [
    ("rpush", (None,)),
    ("lpush", (["a"],)),
    ("rpush", ("ok", True)),
    ("linsert", ("before", "a", None)),
    ("lrem", (1, None)),
]


@pytest.mark.parametrize(("command", "args"), BAD_WRITES, ids=repr)
def test_write_bad_value(Example, database, command, args):
    existing = Example(stuff=["a"])
    before = keyspace(database)
    with pytest.raises(InvalidValue):
        getattr(existing.stuff, command)(*args)
    unsaved = Example()
    with pytest.raises(InvalidValue):
        getattr(unsaved.stuff, command)(*args)
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert raw(database.connection, field_key(existing)) == ["a"]


@pytest.mark.parametrize(("command", "args"), BAD_WRITES, ids=repr)
def test_write_bad_value_names_the_field(Example, command, args):
    existing = Example(stuff=["a"])
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        getattr(existing.stuff, command)(*args)


# -- instance lifecycle -----------------------------------------------------------------


def test_unsaved_instance_created_by_first_write(Example, database):
    example = Example()
    assert example.stuff.delete() == 0
    assert keyspace(database) == []
    assert example.stuff.rpush("foo", "bar") == 2
    assert example.pk.get() == "1"
    assert Example.exists(pk="1")
    assert raw(database.connection, field_key(example)) == ["foo", "bar"]
    other = Example()
    assert other.stuff.lpush("x") == 1
    assert other.pk.get() == "2"


@pytest.mark.parametrize(
    ("command", "args"),
    [("rpush", ("b",)), ("lpush", ("b",)), ("lpushx", ("b",)), ("rpushx", ("b",)),
     ("linsert", ("before", "a", "b")), ("lpop", ()), ("rpop", ()), ("lrem", (0, "a")),
     ("lset", (0, "b")), ("ltrim", (0, 0)), ("delete", ()), ("expire", (10,)),
     ("persist", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Example, database, command, args):
    example = Example(stuff=["a"])
    pk = example.pk.get()
    assert example.delete() is True
    before = keyspace(database)
    with pytest.raises(Example.DoesNotExist):
        getattr(Example.lazy_connect(pk).stuff, command)(*args)
    with pytest.raises(DoesNotExist):
        getattr(example.stuff, command)(*args)
    assert keyspace(database) == before


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "kwargs"),
    [*READS, ("lcontains", ("a",), {}), ("lcount", ("a",), {}), ("lrank", ("a",), {})],
    ids=[*_ids(READS), "lcontains", "lcount", "lrank"],
)
def test_read_is_one_command(Example, database, command, args, kwargs):
    example = Example(stuff=ITEMS)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(example.stuff, command)(*args, **kwargs)


@pytest.mark.parametrize(
    ("command", "args", "kwargs"),
    [*WRITES, ("lset", (0, "z"), {})],
    ids=[*_ids(WRITES), "lset"],
)
def test_write_is_one_evalsha(Example, database, command, args, kwargs):
    example = Example(stuff=ITEMS)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1) as recorder:
        getattr(example.stuff, command)(*args, **kwargs)
    assert recorder.commands[0][0] in FUNCTION_CALLS


def test_creating_write_is_one_evalsha(Example, database):
    database.load_scripts()
    with count_commands(database) as recorder:
        Example().stuff.rpush("a", "b")
    assert recorder.num_commands == 1
    assert recorder.commands[0][0] in FUNCTION_CALLS


def test_sort_result_is_a_list(Example):
    result = Example(stuff=["b", "a"]).stuff.sort(alpha=True)
    assert isinstance(result, list) and not isinstance(result, types.GeneratorType)
    assert result == ["a", "b"]


def test_rpush_many_members(Example, database):
    connection = database.connection
    many = [f"m{i}" for i in range(10000)]
    example = Example(stuff=["a"])
    connection.rpush(SCRATCH, "a")
    assert example.stuff.rpush(*many) == connection.rpush(SCRATCH, *many)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)


def test_constructor_with_many_members(Example, database):
    many = [f"m{i % 500}" for i in range(10000)]
    example = Example(stuff=many)
    assert raw(database.connection, field_key(example)) == many


def test_every_declared_command_is_tested():
    """A command added to the field must be added to the tests above and below."""
    tested = {name for name, _args, _kwargs in READS + WRITES} | {
        "lset",
        "lcontains",
        "lcount",
        "lrank",
        "expireat",
        "pexpireat",
    }
    declared = set(fields.ListField.read_commands) | set(fields.ListField.write_commands)
    assert declared <= tested
