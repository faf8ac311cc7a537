"""InstanceHashField round trips: reads (field and instance level) are one command, writes
one EVALSHA (two round trips at most with a transform index).

Scripts are loaded first (``database.load_scripts()``), so no SCRIPT LOAD or
NOSCRIPT retry is ever counted.
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.fields import InstanceHashField
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands, count_commands
from tests.tools.calls import FUNCTION_CALLS

LOWER = EqualIndex.configure(transform=lambda value: value.lower())

UNTRANSFORMED = ["plain", "idx", "uniq", "text", "utext", "num", "many"]
TRANSFORMED = ["lower", "ulower"]
FIELDS = UNTRANSFORMED + TRANSFORMED

WRITES = {
    "hset": lambda field: field.hset("7"),
    "hsetnx": lambda field: field.hsetnx("8"),
    "hincrby": lambda field: field.hincrby(2),
    "hincrbyfloat": lambda field: field.hincrbyfloat("0.5"),
    "hdel": lambda field: field.hdel(),
    "delete": lambda field: field.delete(),
    "instance_hmset": lambda field: field.instance.hmset(**{field.name: "9"}),
    "instance_hdel": lambda field: field.instance.hdel(field.name),
}

INSTANCE_READS = {
    "hmget": lambda instance: instance.hmget(*FIELDS),
    "hgetall": lambda instance: instance.hgetall(),
    "hkeys": lambda instance: instance.hkeys(),
    "hvals": lambda instance: instance.hvals(),
    "hlen": lambda instance: instance.hlen(),
}


@pytest.fixture
def Model(database):
    db = database

    class HashCounted(RedisModel):
        database = db
        namespace = "t_instancehash_roundtrips"
        plain = InstanceHashField()
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

    db.load_scripts()
    return HashCounted


def all_keys(database):
    return sorted(database.connection.keys())


@pytest.mark.parametrize("field", FIELDS)
def test_hget_is_one_command_in_one_round_trip(database, Model, field):
    instance = Model(**{field: "v"})
    with assert_num_commands(1, database, round_trips=1):
        assert getattr(instance, field).hget() == "v"


@pytest.mark.parametrize("read", INSTANCE_READS)
def test_an_instance_level_read_is_one_command_in_one_round_trip(database, Model, read):
    instance = Model(**{name: f"v{i}" for i, name in enumerate(FIELDS)})
    with assert_num_commands(1, database, round_trips=1):
        INSTANCE_READS[read](instance)


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("field", UNTRANSFORMED)
def test_a_write_without_transform_is_exactly_one_evalsha(database, Model, field, write):
    instance = Model(**{field: "5"})
    with assert_num_commands(1, database, round_trips=1) as recorder:
        WRITES[write](getattr(instance, field))
    assert recorder.commands[0][0] in FUNCTION_CALLS
    assert consistency_check(Model) == []


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("initial", [None, "5"])
@pytest.mark.parametrize("field", TRANSFORMED)
def test_a_write_to_a_field_with_a_transform_index_is_two_round_trips_at_most(
    database, Model, field, initial, write
):
    instance = Model(plain="p") if initial is None else Model(**{field: initial})
    with count_commands(database) as recorder:
        WRITES[write](getattr(instance, field))
    assert recorder.num_round_trips <= 2, recorder.describe()
    assert consistency_check(Model) == []


def test_hmset_of_every_untransformed_field_is_one_evalsha(database, Model):
    instance = Model(**{name: "old" for name in UNTRANSFORMED})
    with assert_num_commands(1, database, round_trips=1):
        instance.hmset(**{name: f"new{i}" for i, name in enumerate(UNTRANSFORMED)})
    assert consistency_check(Model) == []


def test_hmset_of_every_field_is_two_round_trips_at_most(database, Model):
    instance = Model(**{name: "old" for name in FIELDS})
    with count_commands(database) as recorder:
        instance.hmset(**{name: f"New{i}" for i, name in enumerate(FIELDS)})
    assert recorder.num_round_trips <= 2, recorder.describe()
    assert consistency_check(Model) == []


def test_a_create_of_every_field_is_one_command(database, Model):
    with assert_num_commands(1, database, round_trips=1):
        Model(**{name: f"V{i}" for i, name in enumerate(FIELDS)})
    assert consistency_check(Model) == []


def test_deleting_an_instance_without_transformed_values_is_one_command(database, Model):
    instance = Model(**{name: "v" for name in UNTRANSFORMED})
    with assert_num_commands(1, database, round_trips=1):
        assert instance.delete() is True
    assert all_keys(database) == [Model._meta.keys.max_pk]
