"""Filters that no index handles, bad filter values, and values that look like patterns.

A filter nobody can run is an ``ImplementationError`` naming the model, the
field and the suffix; a filter value that cannot be compared is an
``InvalidValue`` (a ``ValueError``) naming the field. Both are raised when the
collection is built, before any command is sent.
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue
from django_limpyd.fields import InstanceHashField, PKField, SetField, StringField
from django_limpyd.indexes import NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

NAMESPACE = "t_indexes_lookups_errors"

#: values and pks a key layout or a SCAN pattern could misread
TRICKY = [
    "*", "?", "[ab]", "a", "b", "a*", "a:b", "a:b:c", "{x}", "}{", " ", "a b", "\n", "a\nb",
    "é", "日本", "\\", "\\*", "%", "%3A", ":", "", "a]", "[", "ab", "x:*",
]  # fmt: skip


@pytest.fixture
def Model(database):
    db = database

    class Filtered(RedisModel):
        database = db
        namespace = NAMESPACE
        eq = StringField(indexable=True)
        text = StringField(indexable=True, indexes=[TextRangeIndex])
        num = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        tags = SetField(indexable=True)
        plain = StringField()

    Filtered(eq="a", text="a", num="1", tags=["a"], plain="a")
    Filtered(eq="ab", text="ab", num="2", tags=["ab"], plain="ab")
    return Filtered


@pytest.fixture
def Tricky(database):
    db = database

    class Tricky(RedisModel):
        database = db
        namespace = NAMESPACE
        id = PKField()
        eq = StringField(indexable=True)
        text = InstanceHashField(indexable=True, indexes=[TextRangeIndex])
        tags = SetField(indexable=True)

    for position, value in enumerate(TRICKY):
        Tricky(id=f"{value}#{position}", eq=value, text=value, tags=[value, f"{value}!"])
    return Tricky


UNHANDLED = [
    ("eq__startswith", "startswith"),
    ("eq__gt", "gt"),
    ("eq__lte", "lte"),
    ("num__startswith", "startswith"),
    ("text__contains", "contains"),
    ("tags__gte", "gte"),
    ("eq__iexact", "iexact"),
]


@pytest.mark.parametrize(("name", "suffix"), UNHANDLED)
def test_unhandled_suffix(Model, database, name, suffix):
    with assert_num_commands(0, database), pytest.raises(ImplementationError) as raised:
        Model.collection(**{name: "a"})
    message = str(raised.value)
    field = name.split("__")[0]
    assert "Filtered" in message and field in message and suffix in message, message


@pytest.mark.parametrize("name", ["plain", "plain__eq", "plain__in", "plain__gt"])
def test_unindexed_field(Model, database, name):
    value = ["a"] if name.endswith("__in") else "a"
    with assert_num_commands(0, database), pytest.raises(ImplementationError) as raised:
        Model.collection(**{name: value})
    message = str(raised.value)
    assert "Filtered" in message and "plain" in message and "not indexed" in message, message
    assert name in message, message  # the suffix, when given


@pytest.mark.parametrize("name", ["nope", "nope__eq", "nope__in", "text__gt__lt", "pk__gt"])
def test_unknown_field_or_suffix(Model, database, name):
    with assert_num_commands(0, database), pytest.raises(ImplementationError) as raised:
        Model.collection(**{name: "a"})
    message = str(raised.value)
    field, suffix = name.split("__")[0], name.split("__")[-1]
    assert "Filtered" in message and field in message and suffix in message, message


BAD_VALUES = [
    ({"eq": None}, "eq"),
    ({"eq__in": ["a", None]}, "eq"),
    ({"text__gt": None}, "text"),
    ({"num": None}, "num"),
    ({"eq": True}, "eq"),
    ({"eq": object()}, "eq"),
    ({"eq": ["a"]}, "eq"),
    ({"eq": {"a": 1}}, "eq"),
    ({"tags": ["a", "b"]}, "tags"),
    ({"num": "abc"}, "num"),
    ({"num__gt": "x"}, "num"),
    ({"num__lte": ""}, "num"),
    ({"num__in": ["1", "x"]}, "num"),
    ({"num__gte": float("nan")}, "num"),
    ({"num": "nan"}, "num"),
    ({"eq__in": "abc"}, "eq"),
    ({"num__in": "12"}, "num"),
    ({"text__in": 5}, "text"),
    ({"tags__in": b"ab"}, "tags"),
    ({"pk": None}, "pk"),
    ({"pk": ""}, "pk"),
    ({"pk__in": "12"}, "pk"),
    ({"eq": "a", "num__gt": "x"}, "num"),
]


def filters_id(filters):
    """A test id that is the same in every process (no object addresses)."""
    if isinstance(filters, str):
        return filters
    return ",".join(
        f"{name}=<object>" if type(value) is object else f"{name}={value!r}"
        for name, value in filters.items()
    )


@pytest.mark.parametrize(("filters", "field"), BAD_VALUES, ids=filters_id)
def test_bad_filter_values(Model, database, filters, field):
    with assert_num_commands(0, database), pytest.raises(InvalidValue) as raised:
        Model.collection(**filters)
    assert isinstance(raised.value, ValueError)
    assert field in str(raised.value), str(raised.value)


def test_in_takes_any_iterable(Model):
    expected = {Model.collection(eq="a")[0], Model.collection(eq="ab")[0]}
    assert set(Model.collection(eq__in=("a", "ab"))) == expected
    assert set(Model.collection(eq__in={"a", "ab", "zz"})) == expected
    assert set(Model.collection(num__in=range(1, 3))) == expected
    assert set(Model.collection(pk__in=iter(expected))) == expected


def test_in_takes_a_generator(Model):
    expected = {Model.collection(eq="a")[0], Model.collection(eq="ab")[0]}
    assert set(Model.collection(eq__in=(value for value in ["a", "ab"]))) == expected


@pytest.mark.parametrize("value", TRICKY)
def test_values_are_never_patterns(Tricky, value):
    position = TRICKY.index(value)
    pk = f"{value}#{position}"
    assert list(Tricky.collection(eq=value)) == [pk]
    assert list(Tricky.collection(text=value)) == [pk]
    assert list(Tricky.collection(tags=value)) == [pk]
    assert list(Tricky.collection(tags=f"{value}!")) == [pk]
    assert list(Tricky.collection(pk=pk)) == [pk]
    assert list(Tricky.collection(pk__in=[pk, f"{pk}?"])) == [pk]
    expected = {f"{other}#{i}" for i, other in enumerate(TRICKY) if other.startswith(value)}
    assert set(Tricky.collection(text__startswith=value)) == expected
    assert set(Tricky.collection(eq__in=[value, "absent*"])) == {pk}


def test_tricky_values_keep_indexes_consistent(Tricky):
    assert consistency_check(Tricky) == []
    assert len(Tricky.collection()) == len(TRICKY)


@pytest.mark.parametrize("suffix", ["gt", "startswith"])
def test_nul_in_text_filter_value(Model, database, suffix):
    """A value with NUL cannot be stored in a text index: refuse it, or find nothing wrong."""
    a = Model.collection(text="a")[0]
    try:
        with assert_num_commands(0, database):
            collection = Model.collection(**{f"text__{suffix}": "a\0"})
    except InvalidValue:
        return
    assert a not in list(collection)  # b"a" is neither > b"a\0" nor starts with it
