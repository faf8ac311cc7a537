"""Indexed InstanceHashFields: every write (field and instance level) keeps indexes exact,
uniqueness is atomic over several fields, refusals.

Variants: ``indexable=True``, ``unique=True``, an ``EqualIndex`` with a Python
transform (plain and unique), ``TextRangeIndex`` (plain and unique),
``NumberRangeIndex`` and a field with three indexes.
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.fields import InstanceHashField
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

SCRATCH = "scratch:hash"

LOWER = EqualIndex.configure(transform=lambda value: value.lower())

FIELDS = ["idx", "uniq", "lower", "ulower", "text", "utext", "num", "many"]
UNIQUE_FIELDS = ["uniq", "ulower", "utext"]

#: (command, value held before, arguments)
WRITES = [
    ("hset", "Old", ("New",)),
    ("hset", None, ("New",)),
    ("hset", "Old", ("Old",)),
    ("hsetnx", None, ("New",)),
    ("hsetnx", "Old", ("New",)),
    ("hincrby", "10", (5,)),
    ("hincrby", None, (3,)),
    ("hincrbyfloat", "10", ("0.5",)),
    ("hincrbyfloat", None, (1.5,)),
    ("hdel", "Old", ()),
    ("hdel", None, ()),
    ("delete", "Old", ()),
]


@pytest.fixture
def Model(database):
    db = database

    class HashIndexed(RedisModel):
        database = db
        namespace = "t_instancehash_indexed"
        idx = InstanceHashField(indexable=True)
        uniq = InstanceHashField(unique=True)
        lower = InstanceHashField(indexable=True, indexes=[LOWER])
        ulower = InstanceHashField(unique=True, indexes=[LOWER])
        text = InstanceHashField(indexable=True, indexes=[TextRangeIndex])
        utext = InstanceHashField(unique=True, indexes=[TextRangeIndex])
        num = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        many = InstanceHashField(
            indexable=True, indexes=[EqualIndex, TextRangeIndex, NumberRangeIndex]
        )
        plain = InstanceHashField()

    return HashIndexed


def stored(database, instance):
    return database.connection.hgetall(type(instance)._meta.keys.instance_hash(instance.pk.get()))


def all_keys(database):
    return sorted(database.connection.keys())


def neighbours(Model):
    Model(**{name: "other" for name in FIELDS}, plain="x")
    Model(**{name: "15" for name in FIELDS if name not in UNIQUE_FIELDS}, plain="y")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("command", "initial", "args"), WRITES)
def test_write_returns_what_redis_py_returns_and_keeps_indexes_exact(
    database, Model, field, command, initial, args
):
    neighbours(Model)
    instance = Model(plain="p") if initial is None else Model(**{field: initial}, plain="p")
    connection = database.connection
    connection.delete(SCRATCH)
    if initial is not None:
        connection.hset(SCRATCH, field, initial)
    ours = getattr(getattr(instance, field), command)(*args)
    theirs = getattr(connection, command)(SCRATCH, field, *args)
    assert ours == theirs
    assert type(ours) is type(theirs)
    assert stored(database, instance).get(field) == connection.hget(SCRATCH, field)
    assert stored(database, instance)["plain"] == "p"
    assert consistency_check(Model) == []


def test_hmset_of_every_indexed_field_at_once_keeps_indexes_exact(Model):
    neighbours(Model)
    instance = Model(**{name: "Before" for name in FIELDS})
    assert instance.hmset(**{name: f"After{i}" for i, name in enumerate(FIELDS)}, plain="p")
    assert consistency_check(Model) == []
    assert instance.hmset(idx="1", lower="X") is True
    assert consistency_check(Model) == []
    assert instance.hgetall()["lower"] == "X"


def test_instance_hdel_of_several_indexed_fields_keeps_indexes_exact(Model):
    neighbours(Model)
    instance = Model(**{name: "Gone" for name in FIELDS}, plain="p")
    assert instance.hdel(*FIELDS, "plain") == len(FIELDS) + 1
    assert instance.hgetall() == {}
    assert consistency_check(Model) == []


def test_hmset_on_an_unsaved_instance_creates_it_with_its_index_entries(Model):
    instance = Model()
    assert instance.hmset(uniq="u", lower="L", num="3") is True
    assert instance.pk.get() == "1"
    assert consistency_check(Model) == []
    with pytest.raises(UniquenessError):
        Model().hmset(uniq="u")
    assert consistency_check(Model) == []


@pytest.mark.parametrize("field", FIELDS)
def test_a_chain_of_writes_then_deletes_leaves_no_index_entry_behind(database, Model, field):
    neighbour = Model(**{field: "kept"})
    instance = Model(**{field: "5"})
    value = getattr(instance, field)
    steps = [
        lambda: value.hincrby(2),
        lambda: value.hincrbyfloat("0.25"),
        lambda: value.hset("Fresh"),
        lambda: value.hdel(),
        lambda: value.hsetnx("Again"),
        lambda: instance.hmset(**{field: "Last"}),
        lambda: instance.hdel(field),
        lambda: instance.hmset(**{field: "Final"}),
    ]
    for step in steps:
        step()
        assert consistency_check(Model) == []
    instance.delete()
    neighbour.delete()
    assert consistency_check(Model) == []
    assert all_keys(database) == [Model._meta.keys.max_pk]


# -- uniqueness --------------------------------------------------------------------------

#: (field, value held by another instance, value before, command, arguments)
CONFLICTS = [
    ("uniq", "10", "x", "hset", ("10",)),
    ("uniq", "10", None, "hsetnx", ("10",)),
    ("uniq", "10", "9", "hincrby", (1,)),
    ("uniq", "3", None, "hincrby", (3,)),
    ("uniq", "10", "9.5", "hincrbyfloat", ("0.5",)),
    ("ulower", "Abc", "x", "hset", ("aBC",)),
    ("ulower", "abc", None, "hsetnx", ("ABC",)),
    ("utext", "10", "9", "hincrby", (1,)),
    ("utext", "10", "x", "hset", ("10",)),
]


@pytest.mark.parametrize(("field", "taken", "before", "command", "args"), CONFLICTS)
def test_update_to_a_taken_unique_value_raises_and_changes_nothing(
    database, Model, field, taken, before, command, args
):
    holder = Model(**{field: taken})
    instance = Model(plain="p") if before is None else Model(**{field: before}, plain="p")
    keys_before = all_keys(database)
    hash_before = stored(database, instance)
    with pytest.raises(UniquenessError, match=f"HashIndexed.{field}"):
        getattr(getattr(instance, field), command)(*args)
    assert stored(database, instance) == hash_before
    assert stored(database, holder) == {field: taken}
    assert all_keys(database) == keys_before
    assert consistency_check(Model) == []


@pytest.mark.parametrize("conflicting", UNIQUE_FIELDS)
def test_hmset_with_a_conflict_on_one_field_writes_none_of_the_fields(database, Model, conflicting):
    Model(**{conflicting: "Taken"})
    instance = Model(**{name: f"Mine{i}" for i, name in enumerate(FIELDS)}, plain="p")
    keys_before = all_keys(database)
    hash_before = stored(database, instance)
    values = {name: f"New{i}" for i, name in enumerate(FIELDS)}
    values[conflicting] = "Taken"
    with pytest.raises(UniquenessError, match=f"HashIndexed.{conflicting}"):
        instance.hmset(**values, plain="new")
    assert stored(database, instance) == hash_before
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
    with pytest.raises(UniquenessError, match=f"HashIndexed.{field}"):
        Model(**{field: given}, plain="would be written", idx="too")
    assert all_keys(database) == keys_before
    assert database.connection.get(Model._meta.keys.max_pk) == max_pk
    assert consistency_check(Model) == []


def test_two_unique_fields_of_one_instance_may_hold_the_same_value(Model):
    instance = Model(uniq="same", ulower="same", utext="same")
    assert instance.hmset(uniq="again", ulower="again") is True
    assert consistency_check(Model) == []


def test_the_unique_value_of_a_deleted_field_is_free_again(Model):
    first = Model(uniq="v")
    first.uniq.hdel()
    second = Model(uniq="v")
    assert second.uniq.hget() == "v"
    with pytest.raises(UniquenessError):
        first.hmset(uniq="v")
    assert consistency_check(Model) == []


# -- refusals ----------------------------------------------------------------------------

EXPIRY_CALLS = {
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
    with pytest.raises(ImplementationError, match=f"HashIndexed.{field}"):
        EXPIRY_CALLS[call](getattr(instance, field))
    assert all_keys(database) == keys_before
    key = Model._meta.keys.instance_hash(instance.pk.get())
    assert database.connection.ttl(key) == -1


@pytest.mark.parametrize("field", ["text", "utext", "many"])
def test_a_nul_character_in_a_text_range_indexed_value_is_refused(database, Model, field):
    instance = Model(**{field: "kept"})
    keys_before = all_keys(database)
    with pytest.raises(InvalidValue, match=f"HashIndexed.{field}"):
        Model(**{field: "a\0b"})
    with pytest.raises(InvalidValue, match=f"HashIndexed.{field}"):
        getattr(instance, field).hset("a\0b")
    with pytest.raises(InvalidValue, match=f"HashIndexed.{field}"):
        instance.hmset(plain="p", **{field: "\0"})
    assert all_keys(database) == keys_before
    assert stored(database, instance) == {field: "kept"}
    assert consistency_check(Model) == []


WRITES_ON_DELETED = {
    "hset": lambda instance: instance.uniq.hset("x"),
    "hincrby": lambda instance: instance.num.hincrby(1),
    "hincrbyfloat": lambda instance: instance.lower.hincrbyfloat("1"),
    "hdel": lambda instance: instance.many.hdel(),
    "instance_hmset": lambda instance: instance.hmset(uniq="x", lower="Y", num="2"),
    "instance_hdel": lambda instance: instance.hdel("uniq", "lower"),
}


@pytest.mark.parametrize("write", WRITES_ON_DELETED)
def test_indexed_write_to_an_instance_deleted_meanwhile_raises_and_writes_nothing(
    database, Model, write
):
    instance = Model(uniq="1", lower="1", num="1", many="1")
    stale = Model.lazy_connect(instance.pk.get())
    instance.delete()
    Model(uniq="2", lower="2", num="2", many="2")
    keys_before = all_keys(database)
    with pytest.raises(Model.DoesNotExist):
        WRITES_ON_DELETED[write](stale)
    assert all_keys(database) == keys_before
    assert consistency_check(Model) == []
