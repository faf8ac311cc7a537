"""SortedSetField with indexes: each member (not its score) indexed, atomically.

Every configuration runs every write command; after each, ``consistency_check``
finds nothing and the instance is indexed under exactly its members.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields, model
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import CONFIGS, index_entries, keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_zset_idx"
SCRATCH = "t_zset_idx_scratch"
SCORES = {"a": 1, "b": 2.5, "c": 2.5, "d": -1, "10": 0, "e": 0.1}


def make_model(database, options):
    db = database

    class Ranking(model.RedisModel):
        database = db
        namespace = NAMESPACE
        scores = fields.SortedSetField(**options)

    return Ranking


@pytest.fixture(params=list(CONFIGS))
def Ranking(request, database):
    return make_model(database, CONFIGS[request.param])


@pytest.fixture(params=[name for name in CONFIGS if "unique" not in name])
def Shared(request, database):
    return make_model(database, CONFIGS[request.param])


@pytest.fixture(params=[name for name in CONFIGS if "unique" in name])
def Unique(request, database):
    return make_model(database, CONFIGS[request.param])


def raw(connection, key):
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "zset", f"{key} is a {kind}"
    return connection.zrange(key, 0, -1, withscores=True)


def field_key(instance):
    return type(instance)._meta.keys.field("scores", instance.pk.get())


def assert_indexed(*instances):
    model_class = type(instances[0])
    assert consistency_check(model_class) == []
    connection = model_class._meta.database.connection
    for instance in instances:
        pk = instance.pk.get()
        members = [member for member, _score in raw(connection, field_key(instance)) or []]
        for index in model_class.get_field("scores").indexes:
            assert index_entries(index, pk) == {index.transform_value(m) for m in members}


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


# -- every write, like redis-py, indexes kept -------------------------------------------

WRITES = [
    ("zadd", ({"x": 1},), {}),
    ("zadd", ({"a": 1, "x": 2, "y": -0.5},), {}),
    ("zadd", ({"a": 7},), {}),
    ("zadd", ({"a": 7, "x": 1},), {"ch": True}),
    ("zincrby", (1, "a"), {}),
    ("zincrby", (0.1, "new"), {}),
    ("zpopmax", (), {}),
    ("zpopmax", (2,), {}),
    ("zpopmin", (), {}),
    ("zpopmin", (20,), {}),
    ("zrem", ("a",), {}),
    ("zrem", ("a", "nope", "b"), {}),
    ("zremrangebylex", ("[a", "[c"), {}),
    ("zremrangebylex", ("-", "+"), {}),
    ("zremrangebyrank", (0, 1), {}),
    ("zremrangebyrank", (-2, -1), {}),
    ("zremrangebyscore", (0, 2), {}),
    ("zremrangebyscore", ("(0", "+inf"), {}),
    ("delete", (), {}),
]


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py_and_indexed(Ranking, database, command, args, kwargs):
    connection = database.connection
    example = Ranking(scores=SCORES)
    other = Ranking(scores={"p": 1, "q": 2})
    assert_indexed(example, other)
    connection.zadd(SCRATCH, SCORES)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.scores, command)(*args, **kwargs)
    assert_same(got, expected)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)
    assert raw(connection, field_key(other)) == [("p", 1.0), ("q", 2.0)]
    assert_indexed(example, other)


def test_zadd_kwargs_and_score_changes_keep_index(Ranking, database):
    example = Ranking()
    assert example.scores.zadd(foo=2.5, bar=1.1) == 2
    assert example.pk.get() == "1"
    assert_indexed(example)
    index = Ranking.get_field("scores").get_index()
    assert example.scores.zadd(foo=10, ch=True) == 1  # a new score: same members indexed
    assert index_entries(index, "1") == {index.transform_value("foo"), index.transform_value("bar")}
    assert example.scores.zincrby(-20, "foo") == -10.0
    assert_indexed(example)
    assert example.scores.zpopmin() == [("foo", -10.0)]
    assert index_entries(index, "1") == {index.transform_value("bar")}
    assert_indexed(example)


def test_sequence_of_writes(Ranking, database):
    first = Ranking(scores={"a": 1, "b": 2})
    second = Ranking()
    assert second.scores.zincrby(1, "c") == 1.0
    assert_indexed(first, second)
    assert first.scores.zremrangebyscore(2, 2) == 1
    assert_indexed(first, second)
    assert first.scores.delete() == 1
    assert_indexed(first, second)
    assert first.scores.zadd(b=3) == 1
    assert_indexed(first, second)
    assert second.delete() is True
    assert_indexed(first)
    assert first.delete() is True
    assert consistency_check(Ranking) == []
    assert keyspace(database) == [Ranking._meta.keys.max_pk]


def test_shared_member_stays_indexed_for_the_other(Shared, database):
    first = Shared(scores={"x": 1, "y": 2})
    second = Shared(scores={"x": 5})
    index = Shared.get_field("scores").get_index()
    first.scores.zrem("x")
    assert index_entries(index, "2") == {index.transform_value("x")}
    assert_indexed(first, second)
    first.delete()
    assert_indexed(second)


def test_text_index_refuses_nul(database):
    Ranking = make_model(database, CONFIGS["text"])
    example = Ranking(scores={"a": 1})
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Ranking\.scores"):
        example.scores.zadd({"b": 1, "x\0y": 2})
    with pytest.raises(InvalidValue, match=r"Ranking\.scores"):
        example.scores.zincrby(1, "x\0y")
    with pytest.raises(InvalidValue, match=r"Ranking\.scores"):
        Ranking(scores={"x\0y": 1})
    assert keyspace(database) == before
    assert raw(database.connection, field_key(example)) == [("a", 1.0)]
    assert_indexed(example)


# -- uniqueness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "kwargs"),
    [("zadd", ({"new": 1, "a": 9},), {}), ("zadd", (), {"a": 1, "ch": True}),
     ("zincrby", (1, "a"), {})],
)  # fmt: skip
def test_unique_member_taken(Unique, database, command, args, kwargs):
    holder = Unique(scores={"a": 1, "b": 2})
    other = Unique(scores={"c": 1 / 3, "d": 0.1, "e": 1e-300})
    key = field_key(other)
    before = raw(database.connection, key)
    with pytest.raises(UniquenessError, match=r"Ranking\.scores"):
        getattr(other.scores, command)(*args, **kwargs)
    assert raw(database.connection, key) == before  # members and exact scores kept
    assert raw(database.connection, field_key(holder)) == [("a", 1.0), ("b", 2.0)]
    assert_indexed(holder, other)


def test_unique_member_freed_and_taken(Unique, database):
    holder = Unique(scores={"a": 1})
    other = Unique(scores={"c": 1})
    assert holder.scores.zadd(a=5) == 0  # the holder may change its own score
    assert holder.scores.zincrby(1, "a") == 6.0
    assert holder.scores.zpopmax() == [("a", 6.0)]
    assert other.scores.zadd(a=1) == 1
    with pytest.raises(UniquenessError):
        holder.scores.zadd(a=1)
    before = keyspace(database)
    with pytest.raises(UniquenessError):
        Unique(scores={"z": 1, "a": 2})
    unsaved = Unique()
    with pytest.raises(UniquenessError):
        unsaved.scores.zadd(a=3)
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert_indexed(holder, other)


# -- expiry, deleted instances ----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [("expire", (10,)), ("pexpire", (10000,)), ("expireat", (2_000_000_000,)),
     ("pexpireat", (2_000_000_000_000,)), ("persist", ()), ("ttl", ()), ("pttl", ())],
)  # fmt: skip
def test_expiry_refused(Ranking, database, command, args):
    example = Ranking(scores={"a": 1})
    with pytest.raises(ImplementationError, match=r"Ranking\.scores"):
        getattr(example.scores, command)(*args)
    assert database.connection.ttl(field_key(example)) == -1


@pytest.mark.parametrize(
    ("command", "args"),
    [("zadd", ({"b": 1},)), ("zincrby", (1, "a")), ("zpopmax", ()), ("zpopmin", ()),
     ("zrem", ("a",)), ("zremrangebylex", ("-", "+")), ("zremrangebyrank", (0, -1)),
     ("zremrangebyscore", ("-inf", "+inf")), ("delete", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Ranking, database, command, args):
    example = Ranking(scores={"a": 1})
    pk = example.pk.get()
    assert example.delete() is True
    assert consistency_check(Ranking) == []
    before = keyspace(database)
    with pytest.raises(Ranking.DoesNotExist):
        getattr(Ranking.lazy_connect(pk).scores, command)(*args)
    assert keyspace(database) == before


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_round_trips(Ranking, database, command, args, kwargs):
    example = Ranking(scores=SCORES)
    database.load_scripts()
    transformed = Ranking.get_field("scores").get_index().has_transform
    with count_commands(database) as recorder:
        getattr(example.scores, command)(*args, **kwargs)
    assert all(sent[0] in FUNCTION_CALLS for sent in recorder.commands)
    if transformed:
        assert recorder.num_round_trips <= 2
        assert recorder.num_commands <= 2
    else:
        assert recorder.num_commands == 1
        assert recorder.num_round_trips == 1
    assert_indexed(example)


@pytest.mark.parametrize(
    ("command", "args"),
    [("zrange", (0, -1)), ("zscore", ("a",)), ("zcard", ()), ("zrank", ("a",)),
     ("zrangebyscore", (0, 10))],
)  # fmt: skip
def test_read_is_one_command(Ranking, database, command, args):
    example = Ranking(scores=SCORES)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(example.scores, command)(*args)
