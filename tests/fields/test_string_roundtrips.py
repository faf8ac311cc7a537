"""StringField round trips: a read is one command, a write one EVALSHA (two with transforms).

Scripts are loaded first (``database.load_scripts()``), so no SCRIPT LOAD or
NOSCRIPT retry is ever counted.
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.fields import StringField
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.tools.calls import FUNCTION_CALLS

LOWER = EqualIndex.configure(transform=lambda value: value.lower())

UNTRANSFORMED = ["plain", "idx", "uniq", "text", "utext", "num", "many"]
TRANSFORMED = ["lower", "ulower"]
FIELDS = UNTRANSFORMED + TRANSFORMED

READS = [
    ("get", ()),
    ("getbit", (1,)),
    ("getrange", (0, 2)),
    ("strlen", ()),
    ("bitcount", ()),
    ("bitcount", (1, 2)),
    ("bitpos", (1,)),
    ("bitpos", (0, 1)),
]

WRITES = [
    ("set", ("7",)),
    ("append", ("0",)),
    ("incr", ()),
    ("incrby", (3,)),
    ("incrbyfloat", ("0.5",)),
    ("decr", ()),
    ("decrby", (2,)),
    ("getset", ("8",)),
    ("setnx", ("9",)),
    ("setbit", (1, 1)),
    ("setrange", (0, "6")),
    ("delete", ()),
]

PLAIN_ONLY_WRITES = [
    ("setex", (100, "x")),
    ("psetex", (100_000, "x")),
    ("expire", (100,)),
    ("pexpire", (100_000,)),
    ("expireat", (4_000_000_000,)),
    ("pexpireat", (4_000_000_000_000,)),
    ("persist", ()),
]


@pytest.fixture
def Model(database):
    db = database

    class StringCounted(RedisModel):
        database = db
        namespace = "t_string_roundtrips"
        plain = StringField()
        idx = StringField(indexable=True)
        uniq = StringField(unique=True)
        lower = StringField(indexable=True, indexes=[LOWER])
        ulower = StringField(unique=True, indexes=[LOWER])
        text = StringField(indexable=True, indexes=[TextRangeIndex])
        utext = StringField(unique=True, indexes=[TextRangeIndex])
        num = StringField(indexable=True, indexes=[NumberRangeIndex])
        many = StringField(indexable=True, indexes=[EqualIndex, TextRangeIndex, NumberRangeIndex])

    db.load_scripts()
    return StringCounted


def all_keys(database):
    return sorted(database.connection.keys())


@pytest.mark.parametrize(("command", "args"), READS)
@pytest.mark.parametrize("field", FIELDS)
def test_a_read_is_one_command_in_one_round_trip(database, Model, field, command, args):
    instance = Model(**{field: "foobar"})
    with assert_num_commands(1, database, round_trips=1):
        getattr(getattr(instance, field), command)(*args)


@pytest.mark.parametrize("command", ["ttl", "pttl"])
def test_reading_the_ttl_of_a_plain_field_is_one_command(database, Model, command):
    instance = Model(plain="v")
    with assert_num_commands(1, database, round_trips=1):
        assert getattr(instance.plain, command)() == -1


@pytest.mark.parametrize(("command", "args"), WRITES)
@pytest.mark.parametrize("field", UNTRANSFORMED)
def test_a_write_without_transform_is_exactly_one_evalsha(database, Model, field, command, args):
    instance = Model(**{field: "5"})
    with assert_num_commands(1, database, round_trips=1) as recorder:
        getattr(getattr(instance, field), command)(*args)
    assert recorder.commands[0][0] in FUNCTION_CALLS
    assert consistency_check(Model) == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("command", "args"), PLAIN_ONLY_WRITES)
def test_an_expiry_write_on_a_plain_field_is_exactly_one_evalsha(database, Model, command, args):
    instance = Model(plain="5")
    with assert_num_commands(1, database, round_trips=1) as recorder:
        getattr(instance.plain, command)(*args)
    assert recorder.commands[0][0] in FUNCTION_CALLS


@pytest.mark.parametrize(("command", "args"), WRITES)
@pytest.mark.parametrize("initial", [None, "5"])
@pytest.mark.parametrize("field", TRANSFORMED)
def test_a_write_to_a_field_with_a_transform_index_is_two_round_trips_at_most(
    database, Model, field, initial, command, args
):
    instance = Model(plain="p") if initial is None else Model(**{field: initial})
    with count_commands(database) as recorder:
        getattr(getattr(instance, field), command)(*args)
    assert recorder.num_round_trips <= 2, recorder.describe()
    assert consistency_check(Model) == []


def test_setting_a_transformed_field_for_the_first_time_is_one_round_trip(database, Model):
    instance = Model(plain="p")
    with assert_num_commands(1, database, round_trips=1):
        instance.lower.set("ABC")
    assert consistency_check(Model) == []


def test_a_create_with_every_kind_of_index_is_one_command(database, Model):
    with assert_num_commands(1, database, round_trips=1):
        Model(**{name: f"V{i}" for i, name in enumerate(FIELDS)})
    assert consistency_check(Model) == []


def test_the_first_write_of_an_unsaved_instance_is_one_command(database, Model):
    instance = Model()
    with assert_num_commands(1, database, round_trips=1):
        instance.uniq.set("a")
    assert instance.pk.get() == "1"
    assert consistency_check(Model) == []


def test_deleting_an_instance_without_transformed_values_is_one_command(database, Model):
    instance = Model(**{name: "v" for name in UNTRANSFORMED})
    with assert_num_commands(1, database, round_trips=1):
        assert instance.delete() is True
    assert all_keys(database) == [Model._meta.keys.max_pk]


def test_deleting_an_instance_with_transformed_values_is_two_round_trips_at_most(database, Model):
    instance = Model(**{name: "V" for name in FIELDS})
    with count_commands(database) as recorder:
        assert instance.delete() is True
    assert recorder.num_round_trips <= 2, recorder.describe()
    assert all_keys(database) == [Model._meta.keys.max_pk]
