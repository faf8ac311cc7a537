"""ListField with indexes: each distinct member indexed, atomically with every write.

Lists hold duplicates: a member stays indexed as long as one occurrence remains.
Every configuration runs every write command; after each, ``consistency_check``
finds nothing and the instance is indexed under exactly its distinct members.
"""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError

from django_limpyd import fields, model
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import CONFIGS, index_entries, keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_list_idx"
SCRATCH = "t_list_idx_scratch"
ITEMS = ["a", "b", "a", "c", "10", "2"]


def make_model(database, options):
    db = database

    class Queue(model.RedisModel):
        database = db
        namespace = NAMESPACE
        items = fields.ListField(**options)

    return Queue


@pytest.fixture(params=list(CONFIGS))
def Queue(request, database):
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
    assert kind == "list", f"{key} is a {kind}"
    return connection.lrange(key, 0, -1)


def field_key(instance):
    return type(instance)._meta.keys.field("items", instance.pk.get())


def assert_indexed(*instances):
    model_class = type(instances[0])
    assert consistency_check(model_class) == []
    connection = model_class._meta.database.connection
    for instance in instances:
        pk = instance.pk.get()
        items = raw(connection, field_key(instance)) or []
        for index in model_class.get_field("items").indexes:
            assert index_entries(index, pk) == {index.transform_value(m) for m in items}


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


# -- every write, like redis-py, indexes kept -------------------------------------------

WRITES = [
    ("lpush", ("x",), {}),
    ("lpush", ("x", "y", 3), {}),
    ("rpush", ("x",), {}),
    ("rpush", ("x", "a", 2.5), {}),
    ("lpushx", ("x", "y"), {}),
    ("rpushx", ("x",), {}),
    ("linsert", ("before", "a", "x"), {}),
    ("linsert", ("AFTER", "c", "x"), {}),
    ("linsert", ("after", "nope", "x"), {}),
    ("lset", (0, "x"), {}),
    ("lset", (0, "b"), {}),
    ("lset", (1, "x"), {}),
    ("lset", (-1, "a"), {}),
    ("lpop", (), {}),
    ("lpop", (3,), {}),
    ("lpop", (20,), {}),
    ("rpop", (), {}),
    ("rpop", (2,), {}),
    ("lrem", (0, "a"), {}),
    ("lrem", (1, "a"), {}),
    ("lrem", (-1, "a"), {}),
    ("lrem", (1, "c"), {}),
    ("lrem", (1, "nope"), {}),
    ("ltrim", (1, 2), {}),
    ("ltrim", (3, -1), {}),
    ("ltrim", (5, 1), {}),
    ("delete", (), {}),
]


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py_and_indexed(Queue, database, command, args, kwargs):
    connection = database.connection
    example = Queue(items=ITEMS)
    other = Queue(items=["p", "q", "p"])
    assert_indexed(example, other)
    connection.rpush(SCRATCH, *ITEMS)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.items, command)(*args, **kwargs)
    assert_same(got, expected)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)
    assert raw(connection, field_key(other)) == ["p", "q", "p"]
    assert_indexed(example, other)


def test_duplicates_stay_indexed_until_the_last_goes(Queue, database):
    example = Queue(items=["a", "b", "a", "a"])
    index = Queue.get_field("items").get_index()
    a = index.transform_value("a")
    assert example.items.lrem(1, "a") == 1
    assert a in index_entries(index, "1")
    assert_indexed(example)
    assert example.items.rpop() == "a"
    assert a in index_entries(index, "1")
    assert_indexed(example)
    assert example.items.lset(1, "b") is True  # the last "a" replaced
    assert index_entries(index, "1") == {index.transform_value("b")}
    assert_indexed(example)
    assert example.items.rpush("a", "a") == 4
    assert example.items.ltrim(0, 2) is True  # one "a" left
    assert a in index_entries(index, "1")
    assert_indexed(example)
    assert example.items.lrem(0, "a") == 1
    assert a not in index_entries(index, "1")
    assert_indexed(example)


def test_sequence_of_writes(Queue, database):
    first = Queue()
    assert first.items.rpush("a", "b", "a") == 3
    assert first.pk.get() == "1"
    assert_indexed(first)
    second = Queue(items=["d"])
    assert second.items.lpushx("e") == 2
    assert second.items.linsert("after", "e", "f") == 3
    assert_indexed(first, second)
    assert first.items.lpop(2) == ["a", "b"]
    assert_indexed(first, second)
    assert first.items.delete() == 1
    assert_indexed(first, second)
    assert first.items.rpushx("x") == 0  # no list: nothing pushed, nothing indexed
    assert raw(database.connection, field_key(first)) is None
    assert_indexed(first, second)
    assert second.delete() is True
    assert_indexed(first)
    assert first.delete() is True
    assert consistency_check(Queue) == []
    assert keyspace(database) == [Queue._meta.keys.max_pk]


def test_shared_member_stays_indexed_for_the_other(Shared, database):
    first = Shared(items=["x", "y"])
    second = Shared(items=["x", "x"])
    index = Shared.get_field("items").get_index()
    first.items.lrem(0, "x")
    assert index_entries(index, "2") == {index.transform_value("x")}
    assert_indexed(first, second)
    first.delete()
    assert_indexed(second)


def test_lset_error_writes_nothing(Queue, database):
    example = Queue(items=["a"])
    before = keyspace(database)
    with pytest.raises(ResponseError):
        example.items.lset(5, "new")
    assert keyspace(database) == before
    assert raw(database.connection, field_key(example)) == ["a"]
    assert_indexed(example)


def test_text_index_refuses_nul(database):
    Queue = make_model(database, CONFIGS["text"])
    example = Queue(items=["a"])
    before = keyspace(database)
    for command, args in (("rpush", ("b", "x\0y")), ("lset", (0, "x\0y")),
                          ("linsert", ("before", "a", "x\0y"))):  # fmt: skip
        with pytest.raises(InvalidValue, match=r"Queue\.items"):
            getattr(example.items, command)(*args)
        assert raw(database.connection, field_key(example)) == ["a"]
    assert keyspace(database) == before
    assert_indexed(example)


# -- uniqueness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [("rpush", ("new", "a")), ("lpush", ("a",)), ("lpushx", ("a",)), ("rpushx", ("new", "a")),
     ("linsert", ("before", "d", "a")), ("lset", (0, "a"))],
)  # fmt: skip
def test_unique_member_taken(Unique, database, command, args):
    holder = Unique(items=["a", "b", "a"])
    other = Unique(items=["c", "d", "c"])
    key = field_key(other)
    with pytest.raises(UniquenessError, match=r"Queue\.items"):
        getattr(other.items, command)(*args)
    assert raw(database.connection, key) == ["c", "d", "c"]  # order and duplicates kept
    assert raw(database.connection, field_key(holder)) == ["a", "b", "a"]
    assert_indexed(holder, other)


def test_unique_duplicates_within_one_instance(Unique, database):
    holder = Unique(items=["a", "a"])
    other = Unique(items=["c"])
    assert holder.items.rpush("a") == 3
    assert holder.items.lset(0, "b") is True
    assert_indexed(holder, other)
    assert holder.items.lrem(0, "a") == 2
    assert other.items.rpush("a") == 2  # freed
    with pytest.raises(UniquenessError):
        Unique(items=["z", "a"])
    unsaved = Unique()
    before = keyspace(database)
    with pytest.raises(UniquenessError):
        unsaved.items.rpush("a")
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert_indexed(holder, other)


# -- expiry, deleted instances ----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [("expire", (10,)), ("pexpire", (10000,)), ("expireat", (2_000_000_000,)),
     ("pexpireat", (2_000_000_000_000,)), ("persist", ()), ("ttl", ()), ("pttl", ())],
)  # fmt: skip
def test_expiry_refused(Queue, database, command, args):
    example = Queue(items=["a"])
    with pytest.raises(ImplementationError, match=r"Queue\.items"):
        getattr(example.items, command)(*args)
    assert database.connection.ttl(field_key(example)) == -1


@pytest.mark.parametrize(
    ("command", "args"),
    [("rpush", ("b",)), ("lpush", ("b",)), ("lpushx", ("b",)), ("rpushx", ("b",)),
     ("linsert", ("before", "a", "b")), ("lpop", ()), ("rpop", ()), ("lrem", (0, "a")),
     ("lset", (0, "b")), ("ltrim", (0, 0)), ("delete", ())],
)  # fmt: skip
def test_write_to_deleted_instance(Queue, database, command, args):
    example = Queue(items=["a"])
    pk = example.pk.get()
    assert example.delete() is True
    assert consistency_check(Queue) == []
    before = keyspace(database)
    with pytest.raises(Queue.DoesNotExist):
        getattr(Queue.lazy_connect(pk).items, command)(*args)
    assert keyspace(database) == before
    assert consistency_check(Queue) == []


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_round_trips(Queue, database, command, args, kwargs):
    example = Queue(items=ITEMS)
    database.load_scripts()
    transformed = Queue.get_field("items").get_index().has_transform
    with count_commands(database) as recorder:
        getattr(example.items, command)(*args, **kwargs)
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
    [("lrange", (0, -1)), ("lindex", (0,)), ("llen", ()), ("lcontains", ("a",)),
     ("lcount", ("a",)), ("lrank", ("a",)), ("sort", ())],
)  # fmt: skip
def test_read_is_one_command(Queue, database, command, args):
    example = Queue(items=["1", "2", "1"])
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(example.items, command)(*args)
