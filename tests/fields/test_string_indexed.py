"""Indexed StringFields: every write keeps the indexes exact, uniqueness, refusals, round trips.

Variants: ``indexable=True``, ``unique=True``, an ``EqualIndex`` with a Python
transform (plain and unique), ``TextRangeIndex`` (plain and unique),
``NumberRangeIndex`` and a field with three indexes. After each write,
``consistency_check(Model)`` must find nothing.
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.fields import StringField
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import count_commands

SCRATCH = "scratch:string"

LOWER = EqualIndex.configure(transform=lambda value: value.lower())

FIELDS = ["idx", "uniq", "lower", "ulower", "text", "utext", "num", "many"]
UNIQUE_FIELDS = ["uniq", "ulower", "utext"]
TRANSFORMED = ["lower", "ulower"]

#: (command, value held before, arguments): results Redis computes itself included
WRITES = [
    ("incr", "10", ()),
    ("incr", None, ()),
    ("incrby", "10", (5,)),
    ("decr", "10", ()),
    ("decrby", "10", (3,)),
    ("incrbyfloat", "10", ("0.5",)),
    ("append", "Ab", ("Cd",)),
    ("append", None, ("Cd",)),
    ("setrange", "Hello", (0, "J")),
    ("setbit", "a", (6, 1)),
    ("getset", "Old", ("New",)),
    ("getset", None, ("New",)),
    ("setnx", None, ("New",)),
    ("setnx", "Old", ("New",)),
    ("set", "Old", ("New",)),
    ("set", None, ("New",)),
    ("set", "Old", ("Old",)),
    ("delete", "Old", ()),
    ("delete", None, ()),
]


@pytest.fixture
def Model(database):
    db = database

    class StringIndexed(RedisModel):
        database = db
        namespace = "t_string_indexed"
        idx = StringField(indexable=True)
        uniq = StringField(unique=True)
        lower = StringField(indexable=True, indexes=[LOWER])
        ulower = StringField(unique=True, indexes=[LOWER])
        text = StringField(indexable=True, indexes=[TextRangeIndex])
        utext = StringField(unique=True, indexes=[TextRangeIndex])
        num = StringField(indexable=True, indexes=[NumberRangeIndex])
        many = StringField(indexable=True, indexes=[EqualIndex, TextRangeIndex, NumberRangeIndex])
        plain = StringField()

    return StringIndexed


def raw(database, instance, name):
    return database.connection.get(type(instance)._meta.keys.field(name, instance.pk.get()))


def all_keys(database):
    return sorted(database.connection.keys())


def neighbours(Model):
    """Other instances holding values (some equal to what the tests write, when not unique)."""
    Model(**{name: "other" for name in FIELDS}, plain="x")
    Model(**{name: "11" for name in FIELDS if name not in UNIQUE_FIELDS}, plain="y")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("command", "initial", "args"), WRITES)
def test_write_returns_what_redis_py_returns_and_keeps_indexes_exact(
    database, Model, field, command, initial, args
):
    neighbours(Model)
    instance = Model(plain="p") if initial is None else Model(**{field: initial})
    connection = database.connection
    connection.delete(SCRATCH)
    if initial is not None:
        connection.set(SCRATCH, initial)
    ours = getattr(getattr(instance, field), command)(*args)
    theirs = getattr(connection, command)(SCRATCH, *args)
    assert ours == theirs
    assert type(ours) is type(theirs)
    assert raw(database, instance, field) == connection.get(SCRATCH)
    assert consistency_check(Model) == []


@pytest.mark.parametrize("field", FIELDS)
def test_a_chain_of_writes_then_deletes_leaves_no_index_entry_behind(database, Model, field):
    neighbour = Model(**{field: "kept"})
    instance = Model(**{field: "5"})
    value = getattr(instance, field)
    steps = [
        lambda: value.incr(),
        lambda: value.incrbyfloat("0.25"),
        lambda: value.append("X"),
        lambda: value.setrange(0, "9"),
        lambda: value.setbit(1, 1),
        lambda: value.getset("Fresh"),
        lambda: value.delete(),
        lambda: value.setnx("Again"),
        lambda: value.set("Last"),
    ]
    for step in steps:
        step()
        assert consistency_check(Model) == []
    instance.delete()
    assert consistency_check(Model) == []
    neighbour.delete()
    assert consistency_check(Model) == []
    assert all_keys(database) == [Model._meta.keys.max_pk]


def test_an_equal_index_holds_the_pk_under_the_value_redis_computed(database, Model):
    instance = Model(idx="41", lower="AbC")
    instance.idx.incr()
    instance.lower.append("DE")
    pk = instance.pk.get()
    connection = database.connection
    assert connection.smembers(Model.get_field("idx").get_index().get_storage_key("42")) == {pk}
    assert not connection.exists(Model.get_field("idx").get_index().get_storage_key("41"))
    lower_key = Model.get_field("lower").get_index().get_storage_key("abcde")
    assert lower_key.endswith(":abcde")
    assert connection.smembers(lower_key) == {pk}


# -- uniqueness --------------------------------------------------------------------------

#: (field, value held by another instance, value before, command, arguments)
CONFLICTS = [
    ("uniq", "10", "9", "incr", ()),
    ("uniq", "10", "5", "incrby", (5,)),
    ("uniq", "10", "11", "decr", ()),
    ("uniq", "10", "12", "decrby", (2,)),
    ("uniq", "10", "9.5", "incrbyfloat", ("0.5",)),
    ("uniq", "10", "1", "append", ("0",)),
    ("uniq", "10", "1x", "setrange", (1, "0")),
    ("uniq", "c", "a", "setbit", (6, 1)),
    ("uniq", "10", "x", "getset", ("10",)),
    ("uniq", "10", None, "setnx", ("10",)),
    ("uniq", "10", "x", "set", ("10",)),
    ("uniq", "1", None, "incr", ()),
    ("ulower", "Abc", "x", "set", ("aBC",)),
    ("ulower", "Abc", "ab", "append", ("C",)),
    ("ulower", "Abc", "Xbc", "setrange", (0, "a")),
    ("utext", "10", "9", "incr", ()),
    ("utext", "10", "x", "getset", ("10",)),
]


@pytest.mark.parametrize(("field", "taken", "before", "command", "args"), CONFLICTS)
def test_update_to_a_taken_unique_value_raises_and_changes_nothing(
    database, Model, field, taken, before, command, args
):
    holder = Model(**{field: taken})
    instance = Model(plain="p") if before is None else Model(**{field: before})
    keys_before = all_keys(database)
    with pytest.raises(UniquenessError, match=f"StringIndexed.{field}"):
        getattr(getattr(instance, field), command)(*args)
    assert raw(database, instance, field) == before
    assert raw(database, holder, field) == taken
    assert all_keys(database) == keys_before
    assert consistency_check(Model) == []


@pytest.mark.parametrize(
    ("field", "taken", "given"), [("uniq", "v", "v"), ("ulower", "Abc", "ABC"), ("utext", "v", "v")]
)
def test_create_with_a_taken_unique_value_raises_and_leaves_nothing(
    database, Model, field, taken, given
):
    Model(**{field: taken})
    keys_before = all_keys(database)
    max_pk = database.connection.get(Model._meta.keys.max_pk)
    with pytest.raises(UniquenessError, match=f"StringIndexed.{field}"):
        Model(**{field: given}, plain="would be written", idx="too")
    assert all_keys(database) == keys_before
    assert database.connection.get(Model._meta.keys.max_pk) == max_pk
    assert consistency_check(Model) == []


@pytest.mark.parametrize("field", UNIQUE_FIELDS)
def test_writing_its_own_unique_value_again_is_no_conflict(Model, field):
    instance = Model(**{field: "Same"})
    assert getattr(instance, field).set("Same") is True
    assert getattr(instance, field).getset("Same") == "Same"
    assert consistency_check(Model) == []


def test_a_freed_unique_value_can_be_taken(Model):
    first = Model(uniq="v")
    first.uniq.set("w")
    second = Model(uniq="v")
    first.delete()
    assert Model(uniq="w").uniq.get() == "w"
    assert second.uniq.get() == "v"
    assert consistency_check(Model) == []


# -- refusals ----------------------------------------------------------------------------

EXPIRY_CALLS = {
    "set_ex": lambda field: field.set("v", ex=100),
    "set_px": lambda field: field.set("v", px=100_000),
    "setex": lambda field: field.setex(100, "v"),
    "psetex": lambda field: field.psetex(100_000, "v"),
    "expire": lambda field: field.expire(100),
    "pexpire": lambda field: field.pexpire(100_000),
    "expireat": lambda field: field.expireat(4_000_000_000),
    "pexpireat": lambda field: field.pexpireat(4_000_000_000_000),
    "persist": lambda field: field.persist(),
    "ttl": lambda field: field.ttl(),
    "pttl": lambda field: field.pttl(),
}


@pytest.mark.parametrize("call", EXPIRY_CALLS)
@pytest.mark.parametrize("field", FIELDS)
def test_expiry_is_refused_on_an_indexed_field(database, Model, field, call):
    instance = Model(**{field: "kept"})
    keys_before = all_keys(database)
    with pytest.raises(ImplementationError, match=f"StringIndexed.{field}"):
        EXPIRY_CALLS[call](getattr(instance, field))
    assert all_keys(database) == keys_before
    assert raw(database, instance, field) == "kept"
    assert database.connection.ttl(Model._meta.keys.field(field, instance.pk.get())) == -1


@pytest.mark.parametrize("flag", ["nx", "xx"])
def test_set_refuses_nx_and_xx_on_an_indexed_field(Model, flag):
    instance = Model(uniq="kept")
    with pytest.raises(ImplementationError, match="nx/xx"):
        instance.uniq.set("v", **{flag: True})
    assert instance.uniq.get() == "kept"


@pytest.mark.parametrize("field", ["text", "utext", "many"])
def test_a_nul_character_in_a_text_range_indexed_value_is_refused(database, Model, field):
    instance = Model(**{field: "kept"})
    keys_before = all_keys(database)
    with pytest.raises(InvalidValue, match=f"StringIndexed.{field}"):
        Model(**{field: "a\0b"})
    with pytest.raises(InvalidValue, match=f"StringIndexed.{field}"):
        getattr(instance, field).set("a\0b")
    with pytest.raises(InvalidValue, match=f"StringIndexed.{field}"):
        getattr(instance, field).append("\0")
    assert all_keys(database) == keys_before
    assert raw(database, instance, field) == "kept"
    assert consistency_check(Model) == []


def test_a_computed_value_that_is_not_utf8_on_a_transformed_field_fails_clearly_and_fast(
    database, Model
):
    instance = Model(lower="9")
    keys_before = all_keys(database)
    database.load_scripts()
    with count_commands(database) as recorder, pytest.raises(InvalidValue, match="lower"):
        instance.lower.setbit(0, 1)  # "9" = 0x39 becomes 0xB9, not UTF-8
    assert recorder.num_round_trips <= 2
    assert all_keys(database) == keys_before
    assert raw(database, instance, "lower") == "9"


@pytest.mark.parametrize(
    ("field", "command", "args"),
    [("uniq", "set", ("x",)), ("uniq", "incr", ()), ("lower", "append", ("Q",)),
     ("text", "setrange", (0, "z")), ("num", "delete", ()), ("many", "getset", ("g",))],
)  # fmt: skip
def test_indexed_write_to_an_instance_deleted_meanwhile_raises_and_writes_nothing(
    database, Model, field, command, args
):
    instance = Model(**{field: "1"}, plain="p")
    stale = Model.lazy_connect(instance.pk.get())
    instance.delete()
    Model(**{field: "2"})
    keys_before = all_keys(database)
    with pytest.raises(Model.DoesNotExist):
        getattr(getattr(stale, field), command)(*args)
    assert all_keys(database) == keys_before
    assert consistency_check(Model) == []


# -- what the checker sees -----------------------------------------------------------------


def test_the_consistency_check_notices_wrong_index_entries(database, Model):
    """The oracle of these tests is not vacuous: stale entries are reported."""
    instance = Model(idx="a", num="3")
    connection = database.connection
    connection.sadd(Model.get_field("idx").get_index().get_storage_key("zzz"), instance.pk.get())
    assert any("StringIndexed.idx" in problem for problem in consistency_check(Model))
    connection.delete(Model.get_field("idx").get_index().get_storage_key("zzz"))
    assert consistency_check(Model) == []
    connection.zadd(Model.get_field("num").get_index().get_storage_key(), {instance.pk.get(): 4})
    assert any("StringIndexed.num" in problem for problem in consistency_check(Model))


@pytest.mark.parametrize(
    "value",
    ["12", " 12 ", "\t7\n", "\v7\f", "+5", "5.", ".5", "1.e5", "+.5e-3", "-2.5e3", "1e-400",
     "1e500", "-1e500", "abc", "12abc", "1_000", "0x10", "0b1", "1.5e", "e5", ".", "nan", "inf",
     "-Infinity", "", " ",
     pytest.param("\u0661\u0662", id="arabic-indic-digits"),
     pytest.param("\u00a07", id="no-break-space"),
     pytest.param("7\u2003", id="em-space"),
     pytest.param("\x1c7", id="file-separator")],
)  # fmt: skip
def test_a_number_range_index_scores_the_value_as_the_checker_expects(Model, value):
    """Lua (core.lua number_of) and Python (range.index_number) agree: ASCII decimals only."""
    Model(num=value, many=value)
    assert consistency_check(Model) == []


def test_incrbyfloat_past_the_double_range_keeps_the_number_index_exact(database, Model):
    instance = Model(num="1e308")
    scratch = database.connection
    scratch.set("scratch", "1e308")
    assert instance.num.incrbyfloat("1e308") == scratch.incrbyfloat("scratch", "1e308")
    assert consistency_check(Model) == []
