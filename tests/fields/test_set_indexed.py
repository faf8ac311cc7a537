"""SetField with indexes: each member indexed, atomically with every write.

Every configuration (indexable, unique, TextRangeIndex, NumberRangeIndex, an
EqualIndex with a transform, unique with a transform) runs every write command;
after each, ``consistency_check`` finds nothing and the index entries of the
instance are exactly its (transformed) members.
"""

from __future__ import annotations

import pytest

from django_limpyd import fields, model
from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.fields.helpers import CONFIGS, index_entries, keyspace
from tests.tools.calls import FUNCTION_CALLS

NAMESPACE = "t_set_idx"
SCRATCH = "t_set_idx_scratch"
MEMBERS = {"3", "1", "2", "10"}


TRANSFORMED = {"transform", "unique-transform"}


def make_model(database, options):
    db = database

    class Tagged(model.RedisModel):
        database = db
        namespace = NAMESPACE
        tags = fields.SetField(**options)

    return Tagged


@pytest.fixture(params=list(CONFIGS))
def Tagged(request, database):
    return make_model(database, CONFIGS[request.param])


@pytest.fixture(params=[name for name in CONFIGS if "unique" not in name])
def Shared(request, database):
    """Configurations where two instances may hold the same member."""
    return make_model(database, CONFIGS[request.param])


@pytest.fixture(params=[name for name in CONFIGS if "unique" in name])
def Unique(request, database):
    return make_model(database, CONFIGS[request.param])


def raw(connection, key):
    kind = connection.type(key)
    if kind == "none":
        return None
    assert kind == "set", f"{key} is a {kind}"
    return connection.smembers(key)


def field_key(instance):
    return type(instance)._meta.keys.field("tags", instance.pk.get())


def assert_indexed(*instances):
    """Indexes match the data, and each instance is indexed under exactly its members."""
    model_class = type(instances[0])
    assert consistency_check(model_class) == []
    connection = model_class._meta.database.connection
    for instance in instances:
        pk = instance.pk.get()
        members = raw(connection, field_key(instance)) or set()
        for index in model_class.get_field("tags").indexes:
            assert index_entries(index, pk) == {index.transform_value(m) for m in members}


def assert_same(got, expected):
    assert type(got) is type(expected), f"{got!r} ({type(got)}) != {expected!r} ({type(expected)})"
    assert got == expected


# -- every write, like redis-py, indexes kept -------------------------------------------

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
    ("spop", (10,), {}),
    ("delete", (), {}),
]


def _ids(cases):
    return [f"{name}{args}{kwargs or ''}" for name, args, kwargs in cases]


@pytest.mark.parametrize(("command", "args", "kwargs"), WRITES, ids=_ids(WRITES))
def test_write_like_redis_py_and_indexed(Tagged, database, command, args, kwargs):
    connection = database.connection
    example = Tagged(tags=MEMBERS)
    other = Tagged(tags=["a", "b"])
    assert_indexed(example, other)
    connection.sadd(SCRATCH, *MEMBERS)
    expected = getattr(connection, command)(SCRATCH, *args, **kwargs)
    got = getattr(example.tags, command)(*args, **kwargs)
    if command == "spop":
        got, expected = sorted(got), sorted(expected)
    assert_same(got, expected)
    assert raw(connection, field_key(example)) == raw(connection, SCRATCH)
    assert raw(connection, field_key(other)) == {"a", "b"}
    assert_indexed(example, other)


def test_spop(Tagged, database):
    example = Tagged(tags=MEMBERS)
    popped = example.tags.spop()
    assert popped in MEMBERS
    assert_indexed(example)
    popped_many = example.tags.spop(2)
    assert len(popped_many) == 2 and popped not in popped_many
    assert raw(database.connection, field_key(example)) == MEMBERS - {popped, *popped_many}
    assert_indexed(example)
    assert example.tags.spop() not in (None, popped)
    assert example.tags.spop() is None
    assert_indexed(example)


def test_sequence_of_writes(Tagged, database):
    first = Tagged()
    assert first.tags.sadd("a", "b", "c") == 3
    assert first.pk.get() == "1"
    assert_indexed(first)
    second = Tagged(tags=["d"])
    assert_indexed(first, second)
    assert second.tags.sadd("e", "d") == 1
    assert_indexed(first, second)
    assert first.tags.srem("b") == 1
    assert_indexed(first, second)
    assert first.tags.delete() == 1
    assert_indexed(first, second)
    assert first.tags.sadd("b") == 1
    assert_indexed(first, second)
    assert second.delete() is True
    assert_indexed(first)
    for index in Tagged.get_field("tags").indexes:
        assert index_entries(index, "2") == set()
    assert first.delete() is True
    assert consistency_check(Tagged) == []
    assert keyspace(database) == [Tagged._meta.keys.max_pk]


def test_shared_member_stays_indexed_for_the_other(Shared, database):
    first = Shared(tags=["x", "y"])
    second = Shared(tags=["x"])
    index = Shared.get_field("tags").indexes[0]
    assert index_entries(index, "2") == {index.transform_value("x")}
    first.tags.srem("x")
    assert_indexed(first, second)
    assert index_entries(index, "2") == {index.transform_value("x")}
    first.delete()
    assert_indexed(second)


def test_transform_index_holds_transformed_members(database):
    Tagged = make_model(database, CONFIGS["transform"])
    example = Tagged(tags=["ab", "Cd"])
    index = Tagged.get_field("tags").get_index()
    assert database.connection.smembers(index.get_storage_key("ab")) == {"1"}
    assert index.get_storage_key("ab") == index.storage_base + "AB"
    assert database.connection.smembers(index.storage_base + "CD") == {"1"}
    example.tags.srem("Cd")
    assert database.connection.exists(index.storage_base + "CD") == 0
    assert_indexed(example)


def test_number_index_scores(database):
    Tagged = make_model(database, CONFIGS["number"])
    example = Tagged(tags=["10", "-2.5", "abc", "0x10"])
    base = Tagged.get_field("tags").get_index().storage_base
    assert dict(database.connection.zrange(base, 0, -1, withscores=True)) == {
        "10\x001": 10.0,
        "-2.5\x001": -2.5,
        "abc\x001": 0.0,
        "0x10\x001": 0.0,
    }
    assert_indexed(example)


@pytest.mark.parametrize(
    "member",
    [
        "inf", "-inf", "nan", "1e400", "1_000", " 7 ", "1.", ".5", "+3", "1e+2", "12e", "0x1A",
        pytest.param(
            "\u0661\u0662",  # ARABIC-INDIC DIGITS ONE, TWO
        ),
    ],
)  # fmt: skip
def test_number_index_agrees_with_consistency_check(database, member):
    Tagged = make_model(database, CONFIGS["number"])
    example = Tagged(tags=[member, "5"])
    assert consistency_check(Tagged) == []
    example.tags.srem(member)
    assert consistency_check(Tagged) == []
    example.tags.sadd(member)
    assert consistency_check(Tagged) == []


def test_text_index_refuses_nul(database):
    Tagged = make_model(database, CONFIGS["text"])
    example = Tagged(tags=["a"])
    before = keyspace(database)
    with pytest.raises(InvalidValue, match=r"Tagged\.tags"):
        example.tags.sadd("b", "x\0y")
    assert keyspace(database) == before
    assert raw(database.connection, field_key(example)) == {"a"}
    with pytest.raises(InvalidValue, match=r"Tagged\.tags"):
        Tagged(tags=["x\0y"])
    unsaved = Tagged()
    with pytest.raises(InvalidValue, match=r"Tagged\.tags"):
        unsaved.tags.sadd("x\0y")
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert_indexed(example)


# -- uniqueness -------------------------------------------------------------------------


def test_unique_member_taken(Unique, database):
    holder = Unique(tags=["a", "b"])
    other = Unique(tags=["c", "d"])
    key = field_key(other)
    before = raw(database.connection, key)
    with pytest.raises(UniquenessError, match=r"Tagged\.tags"):
        other.tags.sadd("new", "a")
    assert raw(database.connection, key) == before
    assert_indexed(holder, other)
    # the holder may add what it already has; the other may take a freed member
    assert holder.tags.sadd("a") == 0
    holder.tags.srem("a")
    assert other.tags.sadd("new", "a") == 2
    assert_indexed(holder, other)
    with pytest.raises(UniquenessError):
        holder.tags.sadd("a")
    assert raw(database.connection, field_key(holder)) == {"b"}
    assert_indexed(holder, other)


def test_unique_member_taken_by_new_instance(Unique, database):
    Unique(tags=["a"])
    before = keyspace(database)
    with pytest.raises(UniquenessError):
        Unique(tags=["z", "a"])
    unsaved = Unique()
    with pytest.raises(UniquenessError):
        unsaved.tags.sadd("z", "a")
    assert unsaved.pk.get() is None
    assert keyspace(database) == before
    assert set(database.connection.zrange(Unique._meta.keys.pks, 0, -1)) == {"1"}
    assert consistency_check(Unique) == []


def test_unique_with_transform_compares_transformed(database):
    Tagged = make_model(database, CONFIGS["unique-transform"])
    holder = Tagged(tags=["abc"])
    other = Tagged(tags=["x"])
    with pytest.raises(UniquenessError):
        other.tags.sadd("ABC")
    assert raw(database.connection, field_key(other)) == {"x"}
    assert holder.tags.sadd("aBc") == 1  # the same instance may hold both
    assert_indexed(holder, other)


# -- expiry, deleted instances ----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args"),
    [("expire", (10,)), ("pexpire", (10000,)), ("expireat", (2_000_000_000,)),
     ("pexpireat", (2_000_000_000_000,)), ("persist", ()), ("ttl", ()), ("pttl", ())],
)  # fmt: skip
def test_expiry_refused(Tagged, database, command, args):
    example = Tagged(tags=["a"])
    with pytest.raises(ImplementationError, match=r"Tagged\.tags"):
        getattr(example.tags, command)(*args)
    assert database.connection.ttl(field_key(example)) == -1
    assert_indexed(example)


@pytest.mark.parametrize(
    ("command", "args"),
    [("sadd", ("b",)), ("srem", ("a",)), ("spop", ()), ("spop", (1,)), ("delete", ())],
)
def test_write_to_deleted_instance(Tagged, database, command, args):
    example = Tagged(tags=["a"])
    pk = example.pk.get()
    assert example.delete() is True
    before = keyspace(database)
    with pytest.raises(Tagged.DoesNotExist):
        getattr(Tagged.lazy_connect(pk).tags, command)(*args)
    assert keyspace(database) == before
    assert consistency_check(Tagged) == []


# -- round trips ------------------------------------------------------------------------

ROUND_TRIP_WRITES = [
    *WRITES,
    ("spop", (), {}),
    ("spop", (2,), {}),
]


@pytest.mark.parametrize(
    ("command", "args", "kwargs"), ROUND_TRIP_WRITES, ids=_ids(ROUND_TRIP_WRITES)
)
def test_write_round_trips(Tagged, database, command, args, kwargs):
    example = Tagged(tags=MEMBERS)
    database.load_scripts()
    transformed = bool(Tagged.get_field("tags").get_index().has_transform)
    with count_commands(database) as recorder:
        getattr(example.tags, command)(*args, **kwargs)
    assert all(command[0] in FUNCTION_CALLS for command in recorder.commands)
    if transformed:
        assert recorder.num_round_trips <= 2
        assert recorder.num_commands <= 2
    else:
        assert recorder.num_commands == 1
        assert recorder.num_round_trips == 1
    assert_indexed(example)


@pytest.mark.parametrize(
    ("command", "args"), [("smembers", ()), ("sismember", ("1",)), ("scard", ()), ("sort", ())]
)
def test_read_is_one_command(Tagged, database, command, args):
    example = Tagged(tags=MEMBERS)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        getattr(example.tags, command)(*args)
