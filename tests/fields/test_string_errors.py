"""StringField errors: bad values are refused before any write, naming ``Model.field``;
writes to an instance deleted meanwhile raise the model's ``DoesNotExist`` and write nothing.
"""

from __future__ import annotations

import pytest

from django_limpyd import exceptions
from django_limpyd.exceptions import InvalidValue
from django_limpyd.fields import StringField
from django_limpyd.model import RedisModel


@pytest.fixture
def Thing(database):
    db = database

    class StringChecked(RedisModel):
        database = db
        namespace = "t_string_errors"
        value = StringField()
        other = StringField()

    return StringChecked


def value_id(value):
    """A test id that is the same in every xdist worker (no memory address)."""
    return "object()" if type(value) is object else repr(value)


def all_keys(database):
    return sorted(database.connection.keys())


# -- bad values ---------------------------------------------------------------------------

BAD_VALUES = [None, {"a": 1}, ["a"], True, False, [["nested"]], ("t",), {"s"}, object()]

WAYS_TO_STORE = {
    "create": lambda model, instance, bad: model(value=bad),
    "set": lambda model, instance, bad: instance.value.set(bad),
    "setex": lambda model, instance, bad: instance.value.setex(100, bad),
    "psetex": lambda model, instance, bad: instance.value.psetex(100_000, bad),
    "getset": lambda model, instance, bad: instance.value.getset(bad),
    "setnx": lambda model, instance, bad: instance.value.setnx(bad),
    "append": lambda model, instance, bad: instance.value.append(bad),
    "setrange": lambda model, instance, bad: instance.value.setrange(0, bad),
}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("bad", BAD_VALUES, ids=value_id)
@pytest.mark.parametrize("way", WAYS_TO_STORE)
def test_bad_value_raises_invalid_value_naming_the_field_before_any_write(
    database, Thing, way, bad
):
    instance = Thing(value="kept")
    before = all_keys(database)
    with pytest.raises(InvalidValue) as caught:
        WAYS_TO_STORE[way](Thing, instance, bad)
    assert "StringChecked.value" in str(caught.value)
    assert all_keys(database) == before
    assert instance.value.get() == "kept"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "way",
    [
        name for name in WAYS_TO_STORE
    ],
)  # fmt: skip
def test_bytes_that_are_not_utf8_raise_invalid_value_before_any_write(database, Thing, way):
    instance = Thing(value="kept")
    before = all_keys(database)
    with pytest.raises(InvalidValue, match="StringChecked.value"):
        WAYS_TO_STORE[way](Thing, instance, b"\xff")
    assert all_keys(database) == before
    assert instance.value.get() == "kept"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("way", ["create", "set", "setex", "getset"])
def test_a_str_that_utf8_cannot_encode_raises_invalid_value_naming_the_field(database, Thing, way):
    instance = Thing(value="kept")
    before = all_keys(database)
    with pytest.raises(InvalidValue, match="StringChecked.value"):
        WAYS_TO_STORE[way](Thing, instance, "\ud800")
    assert all_keys(database) == before


def test_bad_value_on_an_unsaved_instance_creates_nothing(database, Thing):
    instance = Thing()
    with pytest.raises(InvalidValue, match="StringChecked.value"):
        instance.value.set({"a": 1})
    assert instance.pk.get() is None
    assert all_keys(database) == []


# -- writes to a deleted instance --------------------------------------------------------

WRITES_ON_DELETED = [
    ("set", ("x",)),
    ("append", ("x",)),
    ("incr", ()),
    ("incrby", (2,)),
    ("incrbyfloat", ("1.5",)),
    ("decr", ()),
    ("decrby", (2,)),
    ("getset", ("x",)),
    ("setnx", ("x",)),
    ("setbit", (3, 1)),
    ("setrange", (0, "x")),
    ("setex", (100, "x")),
    ("psetex", (100_000, "x")),
    ("expire", (100,)),
    ("persist", ()),
    ("delete", ()),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("handle", ["lazy_connect", "second_handle"])
@pytest.mark.parametrize(("command", "args"), WRITES_ON_DELETED)
def test_write_to_an_instance_deleted_meanwhile_raises_does_not_exist_and_writes_nothing(
    database,
    Thing,
    command,
    args,
    handle,
):
    instance = Thing(value="1", other="o")
    pk = instance.pk.get()
    stale = Thing(pk) if handle == "second_handle" else None
    instance.delete()
    if stale is None:
        stale = Thing.lazy_connect(pk)
    Thing(other="survivor")
    before = all_keys(database)
    with pytest.raises(Thing.DoesNotExist) as caught:
        getattr(stale.value, command)(*args)
    assert isinstance(caught.value, exceptions.DoesNotExist)
    assert all_keys(database) == before
