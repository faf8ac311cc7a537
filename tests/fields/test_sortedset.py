"""SortedSetField (not indexed): every command, compared with redis-py on a plain key.

Each command is sent both through the field and through the database's redis-py
client on a scratch key holding the same members and scores; the results must
be equal and of the same type, and the stored members and scores identical.
"""

from __future__ import annotations

import datetime
import types
from decimal import Decimal

import pytest
from redis.exceptions import ResponseError

from django_limpyd import fields, model
from django_limpyd.exceptions import DoesNotExist, ImplementationError, InvalidValue
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_zset"
SCRATCH = "t_zset_scratch"
SCORES = {"a": 1, "b": 2.5, "c": 2.5, "d": -1, "10": 0, "e": 0.1}


@pytest.fixture
def Example(database):
    db = database

    class Example(model.RedisModel):
        database = db
        namespace = NAMESPACE
        stuff = fields.SortedSetField()

    return Example


def raw(connection, key):
    """What Redis holds at ``key`` (``None`` when there is no such key)."""
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "zset", f"{key} is a {kind}"
    return connection.zrange(key, 0, -1, withscores=True)


def field_key(example, name="stuff"):
    return type(example)._meta.keys.field(name, example.pk.get())


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected
    if isinstance(got, list):
        for mine, theirs in zip(got, expected, strict=True):
            assert type(mine) is type(theirs)
            if isinstance(mine, tuple):
                assert [type(part) for part in mine] == [type(part) for part in theirs]


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


# -- the seed ---------------------------------------------------------------------------


def test_seed_example(Example, database):
    example = Example()
    assert example.stuff.zadd(foo=2.5, bar=1.1) == 2  # number of values added to the sorted set
    assert example.stuff.zrange(0, -1) == ["bar", "foo"]
    assert example.stuff.zrangebyscore(1, 2, withscores=True) == [("bar", 1.1)]
    assert example.stuff.zrem("bar") == 1  # number of values really removed
    assert example.stuff.zrangebyscore(1, 2, withscores=True) == []
    assert example.stuff.delete() == True  # noqa: E712 - the seed shows True
    assert raw(database.connection, field_key(example)) is None


def test_declared_commands():
    assert set(fields.SortedSetField.read_commands) >= {
        "zcard", "zcount", "zlexcount", "zrange", "zrangebylex", "zrangebyscore", "zrank",
        "zrevrange", "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscore", "ttl", "pttl",
    }  # fmt: skip
    assert set(fields.SortedSetField.write_commands) >= {
        "zadd", "zincrby", "zpopmax", "zpopmin", "zrem", "zremrangebylex", "zremrangebyrank",
        "zremrangebyscore", "expire", "pexpire", "expireat", "pexpireat", "persist",
    }  # fmt: skip
    for name in ("zscan", "sort", "delete"):
        assert callable(getattr(fields.SortedSetField, name))


# -- reads ------------------------------------------------------------------------------

READS = [
    ("zcard", (), {}),
    ("zcount", (0, 2), {}),
    ("zcount", ("-inf", "+inf"), {}),
    ("zcount", ("(0", "(2.5"), {}),
    ("zlexcount", ("-", "+"), {}),
    ("zlexcount", ("[a", "(c"), {}),
    ("zrange", (0, -1), {}),
    ("zrange", (0, -1), {"withscores": True}),
    ("zrange", (1, 3), {"desc": True, "withscores": True}),
    ("zrange", (0, -1), {"withscores": True, "score_cast_func": str}),
    ("zrangebylex", ("-", "+"), {}),
    ("zrangebylex", ("[a", "[c"), {"start": 0, "num": 2}),
    ("zrangebyscore", (1, 2.5), {}),
    ("zrangebyscore", ("-inf", "+inf"), {"withscores": True}),
    ("zrangebyscore", ("(0", 3), {"start": 1, "num": 2, "withscores": True}),
    ("zrank", ("c",), {}),
    ("zrank", ("nope",), {}),
    ("zrevrange", (0, -1), {}),
    ("zrevrange", (0, 2), {"withscores": True}),
    ("zrevrangebylex", ("+", "-"), {}),
    ("zrevrangebylex", ("[c", "[a"), {"start": 0, "num": 1}),
    ("zrevrangebyscore", (2.5, 0), {}),
    ("zrevrangebyscore", ("+inf", "-inf"), {"withscores": True, "start": 0, "num": 3}),
    ("zrevrank", ("c",), {}),
    ("zrevrank", ("nope",), {}),
    ("zscore", ("b",), {}),
    ("zscore", ("e",), {}),
    ("zscore", ("nope",), {}),
    ("sort", (), {}),
    ("sort", (), {"alpha": True, "desc": True, "start": 1, "num": 2}),
    ("ttl", (), {}),
    ("pttl", (), {}),
]


@pytest.mark.parametrize("initial", [SCORES, {}], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), READS, ids=_ids(READS))
def test_read_like_redis_py(Example, database, initial, command, args, kwargs):
    connection = database.connection
    example = Example(stuff=initial)
    if initial:
        connection.zadd(SCRATCH, initial)
    if command == "sort" and "alpha" not in kwargs:
        example.stuff.zrem("e")  # keep numbers only for a numeric SORT... of members
        connection.zrem(SCRATCH, "e")
        for member in ("a", "b", "c", "d"):
            example.stuff.zrem(member)
            connection.zrem(SCRATCH, member)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.stuff, command)(*args, **kwargs)
    assert_same(got, expected)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)


def test_zscan_is_a_generator(Example, database):
    scores = {f"m{i}": i for i in range(50)} | {"other": 0.5}
    example = Example(stuff=scores)
    database.connection.zadd(SCRATCH, scores)
    scan = example.stuff.zscan()
    assert isinstance(scan, types.GeneratorType)
    got = list(scan)
    assert all(type(member) is str and type(score) is float for member, score in got)
    assert dict(got) == {member: float(score) for member, score in scores.items()}
    assert sorted(example.stuff.zscan(match="m1*")) == sorted(
        database.connection.zscan_iter(SCRATCH, match="m1*")
    )
    assert dict(example.stuff.zscan(count=5)) == dict(got)
    assert list(Example(stuff={}).stuff.zscan()) == []


def test_sort_store_refused(Example, database):
    example = Example(stuff=SCORES)
    before = keyspace(database)
    with pytest.raises(ImplementationError, match="store"):
        example.stuff.sort(alpha=True, store="elsewhere")
    assert keyspace(database) == before


# -- writes -----------------------------------------------------------------------------

WRITES = [
    ("zadd", ({"x": 1},), {}),
    ("zadd", ({"a": 1, "x": 2, "y": -0.5},), {}),
    ("zadd", ({"a": 7},), {}),
    ("zadd", ({"a": 7, "x": 1},), {"ch": True}),
    ("zadd", ({"a": 1, "b": 2.5},), {"ch": True}),
    ("zadd", ({"x": "1.5", "y": "-inf", "z": "+inf", 5: 1e300},), {}),
    ("zincrby", (1, "a"), {}),
    ("zincrby", (-2.5, "b"), {}),
    ("zincrby", (0.1, "new"), {}),
    ("zincrby", ("3", "a"), {}),
    ("zpopmax", (), {}),
    ("zpopmax", (2,), {}),
    ("zpopmax", (20,), {}),
    ("zpopmin", (), {}),
    ("zpopmin", (3,), {}),
    ("zrem", ("a",), {}),
    ("zrem", ("a", "nope", "b"), {}),
    ("zrem", ("nope",), {}),
    ("zremrangebylex", ("[a", "[c"), {}),
    ("zremrangebylex", ("-", "+"), {}),
    ("zremrangebyrank", (0, 1), {}),
    ("zremrangebyrank", (-2, -1), {}),
    ("zremrangebyscore", (0, 2), {}),
    ("zremrangebyscore", ("(0", "+inf"), {}),
    ("delete", (), {}),
    ("expire", (100,), {}),
    ("pexpire", (100000,), {}),
    ("persist", (), {}),
]


@pytest.mark.parametrize("initial", [SCORES, {}], ids=["full", "empty"])
@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py(Example, database, initial, command, args, kwargs):
    connection = database.connection
    example = Example(stuff=initial)
    if initial:
        connection.zadd(SCRATCH, initial)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.stuff, command)(*args, **kwargs)
    assert_same(got, expected)
    key = field_key(example)
    assert raw(connection, key) == raw(connection, SCRATCH)
    assert connection.ttl(key) == connection.ttl(SCRATCH)


def test_zadd_with_kwargs(Example, database):
    connection = database.connection
    example = Example(stuff=SCORES)
    connection.zadd(SCRATCH, SCORES)
    assert_same(example.stuff.zadd(foo=2.5, bar=1.1, a=3), connection.zadd(
        SCRATCH, {"foo": 2.5, "bar": 1.1, "a": 3}
    ))  # fmt: skip
    assert_same(example.stuff.zadd(a=4, zz=1, ch=True), connection.zadd(
        SCRATCH, {"a": 4, "zz": 1}, ch=True
    ))  # fmt: skip
    with pytest.raises(TypeError, match="a mapping and member keywords"):
        example.stuff.zadd({"m": 1}, n=2)  # ambiguous mix, refused as in limpyd
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)


def test_zadd_score_types(Example, database):
    example = Example()
    assert example.stuff.zadd({"int": 3, "float": 0.1, "decimal": Decimal("2.25"),
                               "str": "1e3", "inf": float("inf")}) == 5  # fmt: skip
    assert dict(raw(database.connection, field_key(example))) == {
        "int": 3.0, "float": 0.1, "decimal": 2.25, "str": 1000.0, "inf": float("inf"),
    }  # fmt: skip
    assert example.stuff.zscore("float") == 0.1


@pytest.mark.parametrize(
    "mapping",
    [{"x": "abc"}, {"x": float("nan")}, {"x": "nan"}, {"x": None}, {"x": True}, {"x": [1]},
     {None: 1}, {("a",): 1}, {}],
    ids=["str-score", "nan", "nan-str", "None-score", "bool-score", "list-score",
         "None-member", "tuple-member", "empty"],
)  # fmt: skip
def test_zadd_bad_value(Example, database, mapping):
    existing = Example(stuff={"a": 1})
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        existing.stuff.zadd(mapping)
    unsaved = Example()
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        unsaved.stuff.zadd(mapping)
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert raw(database.connection, field_key(existing)) == [("a", 1.0)]


def test_zincrby_bad_amount_writes_nothing(Example, database):
    existing = Example(stuff={"a": 1})
    before = keyspace(database)
    with pytest.raises((InvalidValue, ResponseError)):
        existing.stuff.zincrby("abc", "a")
    with pytest.raises((InvalidValue, ResponseError)):
        existing.stuff.zincrby(None, "a")
    existing.stuff.zadd({"inf": "+inf"})
    with pytest.raises(ResponseError, match="NaN"):  # as redis-py: inf + -inf
        existing.stuff.zincrby(float("-inf"), "inf")
    existing.stuff.zrem("inf")
    assert keyspace(database) == before
    assert raw(database.connection, field_key(existing)) == [("a", 1.0)]


def test_expiry_commands(Example, database):
    connection = database.connection
    example = Example(stuff=SCORES)
    key = field_key(example)
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
    empty = Example(stuff={})
    assert empty.stuff.expire(10) is False
    assert empty.stuff.ttl() == -2


# -- constructor ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"a": 1}, [("a", 1.0)]),
        ({"a": 1, "b": -2.5, "c": "3"}, [("b", -2.5), ("a", 1.0), ("c", 3.0)]),
        ({1: 0.1, "été": Decimal("2")}, [("1", 0.1), ("été", 2.0)]),
        ({"x": float("inf"), "y": "-inf"}, [("y", float("-inf")), ("x", float("inf"))]),
    ],
    ids=["one", "several", "number-member-decimal", "infinities"],
)
def test_constructor(Example, database, value, stored):
    example = Example(stuff=value)
    assert example.pk.get() == "1"
    assert raw(database.connection, field_key(example)) == stored
    assert example.stuff.zrange(0, -1, withscores=True) == stored


def test_constructor_empty_creates_the_instance_only(Example, database):
    example = Example(stuff={})
    assert Example.exists(pk=example.pk.get())
    assert raw(database.connection, field_key(example)) is None


@pytest.mark.parametrize(
    "value",
    [["a", "b"], "a", None, {"a": "abc"}, {"a": float("nan")}, {"a": None}, {"a": [1]},
     {"a": {"b": 1}}, {None: 1}, {("a",): 1}, {"a": True}],
    ids=["list", "str", "None", "non-numeric", "nan", "None-score", "list-score",
         "nested", "None-member", "tuple-member", "bool-score"],
)  # fmt: skip
def test_constructor_bad_value(Example, database, value):
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Example\.stuff"):
        Example(stuff=value)
    assert keyspace(database) == before


# -- instance lifecycle -----------------------------------------------------------------


def test_unsaved_instance_created_by_first_write(Example, database):
    example = Example()
    assert example.stuff.delete() == 0
    assert keyspace(database) == []
    assert example.stuff.zadd(foo=2.5, bar=1.1) == 2
    assert example.pk.get() == "1"
    assert Example.exists(pk="1")
    assert raw(database.connection, field_key(example)) == [("bar", 1.1), ("foo", 2.5)]
    other = Example()
    assert other.stuff.zincrby(2, "x") == 2.0
    assert other.pk.get() == "2"


@pytest.mark.parametrize(
    ("command", "args"),
    [("zadd", ({"b": 1},)), ("zincrby", (1, "a")), ("zpopmax", ()), ("zpopmin", ()),
     ("zrem", ("a",)), ("zremrangebylex", ("-", "+")), ("zremrangebyrank", (0, -1)),
     ("zremrangebyscore", ("-inf", "+inf")), ("delete", ()), ("expire", (10,)),
     ("persist", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Example, database, command, args):
    example = Example(stuff={"a": 1})
    pk = example.pk.get()
    assert example.delete() is True
    before = keyspace(database)
    with pytest.raises(Example.DoesNotExist):
        getattr(Example.lazy_connect(pk).stuff, command)(*args)
    with pytest.raises(DoesNotExist):
        getattr(example.stuff, command)(*args)
    assert keyspace(database) == before


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "args", "kwargs"), READS, ids=_ids(READS))
def test_read_is_one_command(Example, database, command, args, kwargs):
    example = Example(stuff={"1": 1, "2": 2})
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(example.stuff, command)(*args, **kwargs)
    with assert_num_commands(1, database, round_trips=1):
        list(example.stuff.zscan())


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_is_one_evalsha(Example, database, command, args, kwargs):
    example = Example(stuff=SCORES)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1) as recorder:
        getattr(example.stuff, command)(*args, **kwargs)
    assert recorder.commands[0][0] in FUNCTION_CALLS


def test_creating_write_is_one_evalsha(Example, database):
    database.load_scripts()
    with count_commands(database) as recorder:
        Example().stuff.zadd(a=1)
    assert recorder.num_commands == 1
    assert recorder.commands[0][0] in FUNCTION_CALLS


# -- many members -----------------------------------------------------------------------


def test_constructor_with_many_members(Example, database):
    many = {f"m{i}": i for i in range(10000)}
    example = Example(stuff=many)
    assert database.connection.zcard(field_key(example)) == len(many)


def test_zadd_many_members(Example, database):
    connection = database.connection
    many = {f"m{i}": i for i in range(5000)}  # 10000 arguments
    example = Example(stuff={"a": 1})
    connection.zadd(SCRATCH, {"a": 1})
    assert example.stuff.zadd(many) == connection.zadd(SCRATCH, many)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)


def test_every_declared_command_is_tested():
    """A command added to the field must be added to the tests above and below."""
    tested = {name for name, _args, _kwargs in READS + WRITES} | {"zscan", "expireat", "pexpireat"}
    declared = set(fields.SortedSetField.read_commands) | set(fields.SortedSetField.write_commands)
    assert declared <= tested
