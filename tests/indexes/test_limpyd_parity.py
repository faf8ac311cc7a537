"""Issue 19, bullet "Indexes": what limpyd 2.1.2 code does with indexes runs unchanged.

``default_indexes`` on a database, a model or a field class; ``field.get_index()``
with limpyd's rules; ``indexes=`` given to a field that is not indexable refused.
"""

from __future__ import annotations

import pytest

from django_limpyd.database import RedisDatabase
from django_limpyd.exceptions import ImplementationError
from django_limpyd.fields import InstanceHashField, SetField, StringField
from django_limpyd.indexes import BaseIndex, EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

NAMESPACE = "t_parity_idx"


def index_classes(model, name):
    return [type(index) for index in model.get_field(name).indexes]


# -- default_indexes -------------------------------------------------------------------


def test_parity_indexes_default_is_equal_index(database):
    db = database

    class Plain(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField(indexable=True)
        code = StringField(unique=True)
        other = StringField()

    assert RedisDatabase.default_indexes == [EqualIndex]
    assert database.get_default_indexes() == [EqualIndex]
    assert index_classes(Plain, "name") == [EqualIndex]
    assert index_classes(Plain, "code") == [EqualIndex]
    assert Plain.get_field("name").index_classes == [EqualIndex]
    assert index_classes(Plain, "other") == []


def test_parity_indexes_default_indexes_on_database(database, monkeypatch):
    monkeypatch.setattr(database, "default_indexes", [TextRangeIndex])
    db = database

    class Word(RedisModel):
        database = db
        namespace = NAMESPACE
        text = StringField(indexable=True)
        tags = SetField(indexable=True)
        own = StringField(indexable=True, indexes=[EqualIndex])

    assert index_classes(Word, "text") == [TextRangeIndex]
    assert index_classes(Word, "tags") == [TextRangeIndex]
    assert index_classes(Word, "own") == [EqualIndex]
    apple = Word(text="apple", tags=["red"], own="x").pk.get()
    Word(text="banana", tags=["yellow"], own="y")
    assert set(Word.collection(text__startswith="app")) == {apple}
    assert set(Word.collection(tags__lt="s")) == {apple}


def test_parity_indexes_default_indexes_on_database_subclass(redis_server):
    class RangeDatabase(RedisDatabase):
        default_indexes = [NumberRangeIndex]

    db = RangeDatabase(**redis_server.connection_kwargs())

    class Scored(RedisModel):
        database = db
        namespace = NAMESPACE
        score = InstanceHashField(indexable=True)

    assert index_classes(Scored, "score") == [NumberRangeIndex]
    try:
        Scored(score=5)
        high = Scored(score=12).pk.get()
        assert set(Scored.collection(score__gt=10)) == {high}
    finally:
        db.close()


def test_parity_indexes_default_indexes_on_model(database, monkeypatch):
    monkeypatch.setattr(database, "default_indexes", [TextRangeIndex])
    db = database

    class Base(RedisModel):
        database = db
        namespace = NAMESPACE
        abstract = True
        default_indexes = [EqualIndex, NumberRangeIndex]

    class Measure(Base):
        value = StringField(indexable=True)

    class Other(Base):
        default_indexes = None  # back to the database's
        value = StringField(indexable=True)

    assert Measure.default_indexes == [EqualIndex, NumberRangeIndex]
    assert Measure._meta.get_default_indexes() == [EqualIndex, NumberRangeIndex]
    assert index_classes(Measure, "value") == [EqualIndex, NumberRangeIndex]
    assert index_classes(Other, "value") == [TextRangeIndex]
    nine = Measure(value="9").pk.get()
    Measure(value="10")
    assert set(Measure.collection(value="9")) == {nine}
    assert set(Measure.collection(value__lt=10)) == {nine}


def test_parity_indexes_default_indexes_on_field_class(database):
    db = database

    class RangeField(StringField):
        default_indexes = [TextRangeIndex]

    class Doc(RedisModel):
        database = db
        namespace = NAMESPACE
        default_indexes = [NumberRangeIndex]
        title = RangeField(indexable=True)
        own = RangeField(indexable=True, indexes=[EqualIndex])
        size = StringField(indexable=True)

    assert index_classes(Doc, "title") == [TextRangeIndex]  # the field class first
    assert index_classes(Doc, "own") == [EqualIndex]  # indexes= first of all
    assert index_classes(Doc, "size") == [NumberRangeIndex]
    assert Doc.get_field("title").get_default_indexes() == [TextRangeIndex]


def test_parity_indexes_default_indexes_inherited_fields_follow_the_subclass(database):
    db = database

    class Parent(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField(indexable=True)

    class Child(Parent):
        default_indexes = [TextRangeIndex]

    assert index_classes(Parent, "name") == [EqualIndex]
    assert index_classes(Child, "name") == [TextRangeIndex]


def test_parity_indexes_default_indexes_with_an_alias(database, monkeypatch):
    """A database given by alias is not resolved at class creation: the class
    attribute ``RedisDatabase.default_indexes`` applies."""
    monkeypatch.setattr(RedisDatabase, "default_indexes", [TextRangeIndex])

    class Aliased(RedisModel):
        database = "default"
        namespace = NAMESPACE
        name = StringField(indexable=True)

    assert index_classes(Aliased, "name") == [TextRangeIndex]


@pytest.mark.parametrize("empty", [[], None])
def test_parity_indexes_no_default_indexes_is_an_error(database, monkeypatch, empty):
    monkeypatch.setattr(database, "default_indexes", empty)
    db = database

    class Unindexed(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField()  # not indexable: no index needed

    assert index_classes(Unindexed, "name") == []
    with pytest.raises(ImplementationError, match="Broken.name is indexable but has no index"):

        class Broken(RedisModel):
            database = db
            namespace = NAMESPACE
            name = StringField(indexable=True)


@pytest.mark.parametrize("bad", [EqualIndex, ["nope"], [EqualIndex, str], "EqualIndex"])
def test_parity_indexes_bad_default_indexes(database, monkeypatch, bad):
    db = database
    with pytest.raises(ImplementationError, match="Bad.default_indexes must be a list"):

        class Bad(RedisModel):
            database = db
            namespace = NAMESPACE
            default_indexes = bad

    monkeypatch.setattr(database, "default_indexes", [EqualIndex, "nope"])
    with pytest.raises(ImplementationError, match="default_indexes must be a list of index"):

        class FromDatabase(RedisModel):
            database = db
            namespace = NAMESPACE
            name = StringField(indexable=True)


# -- indexes= needs indexable ------------------------------------------------------------


@pytest.mark.parametrize("field_class", [StringField, InstanceHashField, SetField])
def test_parity_indexes_given_to_a_field_not_indexable(field_class):
    for kwargs in ({}, {"indexable": False}):
        with pytest.raises(ImplementationError, match="not indexable"):
            field_class(indexes=[TextRangeIndex], **kwargs)
    assert field_class(indexable=True, indexes=[TextRangeIndex]).indexable
    assert field_class(unique=True, indexes=[EqualIndex]).indexable  # unique is indexable
    assert not field_class(indexes=[]).indexable  # no index given: nothing to refuse


# -- get_index -------------------------------------------------------------------------


@pytest.fixture
def Dated(database):
    db = database
    Year = NumberRangeIndex.configure(prefix="year", transform=lambda value: value[:4])
    Lower = EqualIndex.configure(key="lower", transform=lambda value: value.lower())

    class Dated(RedisModel):
        database = db
        namespace = NAMESPACE
        date = StringField(indexable=True, indexes=[TextRangeIndex, Year, EqualIndex, Lower])
        name = StringField(indexable=True)

    return Dated


def test_parity_indexes_get_index_only_index(Dated):
    name = Dated.get_field("name")
    assert name.get_index() is name.indexes[0]
    assert name.get_index(EqualIndex) is name.indexes[0]
    assert name.get_index(key=None, prefix=None) is name.indexes[0]
    assert Dated(name="x").name.get_index() is name.indexes[0]  # bound to an instance too
    for criteria in ({"index_class": TextRangeIndex}, {"key": "k"}, {"prefix": "p"}):
        with pytest.raises(ValueError, match=r"Dated.name has no index matching \("):
            name.get_index(**criteria)


def test_parity_indexes_get_index_narrowed(Dated):
    date = Dated.get_field("date")
    text, year, equal, lower = date.indexes
    assert date.get_index(TextRangeIndex) is text  # TextRangeIndex only
    assert date.get_index(NumberRangeIndex) is year
    assert date.get_index(prefix="year") is year
    assert date.get_index(key="lower") is lower
    assert date.get_index(EqualIndex, key=None) is equal  # None: "without a key"
    assert date.get_index(index_class=EqualIndex, key="lower", prefix=None) is lower
    assert date.get_index(index_class=None, key="lower") is lower  # None: no class filter


@pytest.mark.parametrize(
    ("criteria", "count"),
    [({}, 4), ({"index_class": EqualIndex}, 2), ({"prefix": None}, 3), ({"key": None}, 3),
     ({"index_class": BaseIndex, "prefix": None, "key": None}, 2)],
)  # fmt: skip
def test_parity_indexes_get_index_ambiguous_is_value_error(Dated, criteria, count):
    with pytest.raises(ValueError, match=f"Dated.date has {count} indexes matching"):
        Dated.get_field("date").get_index(**criteria)


def test_parity_indexes_get_index_errors_are_not_implementation_errors(Dated):
    with pytest.raises(ValueError) as info:
        Dated.get_field("date").get_index(prefix="nope")
    assert not isinstance(info.value, ImplementationError)
    assert "prefix='nope'" in str(info.value)
