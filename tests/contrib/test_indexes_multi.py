"""``MultiIndexes.compose``: name, key, transform, prefixes, ids, compositions of
compositions; the seeds' ``EqualAndRangeIndex`` example."""

from __future__ import annotations

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.indexes import MultiIndexes
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

NAMESPACE = "t_contrib_multi"

# the seeds' example
EqualAndRangeIndex = MultiIndexes.compose([EqualIndex, TextRangeIndex])


def upper(value):
    return value.upper()


def suffixed(index, value):
    """A transform of (index, value)."""
    return f"{value}-{index.field.name}"


def test_compose_makes_a_class():
    assert issubclass(EqualAndRangeIndex, MultiIndexes)
    assert EqualAndRangeIndex.__name__ == "MultiIndexes"  # no name: the class's
    assert EqualAndRangeIndex.index_classes == (EqualIndex, TextRangeIndex)
    named = MultiIndexes.compose([EqualIndex], name="Named", key="k", transform=upper)
    assert named.__name__ == "Named"
    assert named.key == "k" and named.transform("a") == "A"
    assert MultiIndexes.index_classes == () and MultiIndexes.key is None
    # configure works on compositions too
    configured = named.configure(prefix="p")
    assert (configured.prefix, configured.key, configured.index_classes) == (
        "p",
        "k",
        (EqualIndex,),
    )
    for bad in ([], [EqualIndex, "EqualIndex"], [object]):
        with pytest.raises(ImplementationError, match="MultiIndexes.compose"):
            MultiIndexes.compose(bad)


def test_seed_equal_and_range_index(database):
    db = database

    class Person(RedisModel):
        database = db
        namespace = NAMESPACE
        name = fields.InstanceHashField(indexable=True, indexes=[EqualAndRangeIndex])

    field = Person.get_field("name")
    assert [type(index) for index in field.indexes] == [EqualIndex, TextRangeIndex]
    assert [index.id for index in field.indexes] == ["name/0.0", "name/0.1"]
    for name in ("alice", "bob", "carol", "dave"):
        Person(name=name)
    assert consistency_check(Person) == []
    assert list(Person.collection(name="bob")) == ["2"]
    assert set(Person.collection(name__in=["bob", "dave"])) == {"2", "4"}
    assert set(Person.collection(name__gt="bob")) == {"3", "4"}
    assert set(Person.collection(name__startswith="ca")) == {"3"}
    assert field.get_index(TextRangeIndex).get_storage_key() == (
        Person._meta.keys.index_storage("name", "text")
    )


def test_key_keeps_compositions_apart(database):
    db = database
    with pytest.raises(ImplementationError, match="would share their storage"):

        class Clash(RedisModel):
            database = db
            namespace = NAMESPACE
            name = fields.StringField(
                indexable=True, indexes=[EqualAndRangeIndex, EqualAndRangeIndex]
            )

    Lower = MultiIndexes.compose(
        [EqualIndex, TextRangeIndex], key="lower", transform=lambda v: v.lower()
    )
    Plain = MultiIndexes.compose([EqualIndex, TextRangeIndex], key="plain")
    Keyed = MultiIndexes.compose([TextRangeIndex.configure(key="inner")], key="outer")

    class Word(RedisModel):
        database = db
        namespace = NAMESPACE
        text = fields.StringField(
            indexable=True, indexes=[Plain, Lower.configure(prefix="lower"), Keyed]
        )

    field = Word.get_field("text")
    assert [(index.key, index.prefix) for index in field.indexes] == [
        ("plain", None),
        ("plain", None),
        ("lower", "lower"),
        ("lower", "lower"),
        ("outer:inner", None),
    ]
    assert len({index.storage_base for index in field.indexes}) == 5
    for text in ("Apple", "apple", "Banana"):
        Word(text=text)
    assert consistency_check(Word) == []
    assert list(Word.collection(text="apple")) == ["2"]
    assert set(Word.collection(text__lower="apple")) == {"1", "2"}
    assert set(Word.collection(text__lower__gt="apple")) == {"3"}
    assert set(Word.collection(text__gt="Banana")) == {"2"}
    assert field.get_index(key="outer:inner").get_storage_key() != (
        field.get_index(TextRangeIndex, key="plain").get_storage_key()
    )


def test_transform_order_and_ids_of_nested_compositions(database):
    db = database
    Inner = MultiIndexes.compose(
        [
            EqualIndex.configure(transform=suffixed, prefix="suffixed"),
            EqualIndex.configure(prefix="same"),
        ],
        name="Inner",
        transform=lambda value: value + "!",
    )
    Outer = MultiIndexes.compose(
        [Inner, NumberRangeIndex.configure(transform=len, prefix="length")],
        name="Outer",
        transform=upper,
    )

    class Thing(RedisModel):
        database = db
        namespace = NAMESPACE
        name = fields.StringField(indexable=True, indexes=[EqualIndex, Outer])

    field = Thing.get_field("name")
    assert [index.id for index in field.indexes] == [
        "name/0",
        "name/1.0.0",
        "name/1.0.1",
        "name/1.1",
    ]
    assert [index.transform_value("ab") for index in field.indexes] == [
        "ab",
        "AB!-name",  # outer, then inner composition, then the part's own
        "AB!",
        "2",
    ]
    assert [type(index).__name__ for index in field.indexes] == [
        "EqualIndex",
        "EqualIndex",
        "EqualIndex",
        "NumberRangeIndex",
    ]
    Thing(name="ab")
    Thing(name="xyz")
    assert consistency_check(Thing) == []
    assert list(Thing.collection(name__suffixed="AB!-name")) == ["1"]
    assert list(Thing.collection(name__same="XYZ!")) == ["2"]
    assert list(Thing.collection(name__length__gt=2)) == ["2"]
    assert list(Thing.collection(name="xyz")) == ["2"]
    # the scripts find each part by its id (transforms computed in Python)
    for index in field.indexes:
        assert Thing._meta.index(index.id) is index
    Thing(1).name.set("abcd")
    assert consistency_check(Thing) == []
    assert list(Thing.collection(name__length=4)) == ["1"]


def test_transform_returning_none_skips_the_parts(database):
    db = database
    Digits = MultiIndexes.compose(
        [EqualIndex, NumberRangeIndex],
        transform=lambda value: value if value.isdigit() else None,
    )

    class Code(RedisModel):
        database = db
        namespace = NAMESPACE
        code = fields.StringField(indexable=True, indexes=[Digits])

    Code(code="12")
    Code(code="ab")
    assert consistency_check(Code) == []
    assert list(Code.collection(code="ab")) == []
    assert list(Code.collection(code__gte=0)) == ["1"]


def test_uniqueness_through_a_composition(database):
    db = database
    NoUnique = MultiIndexes.compose([TextRangeIndex]).configure(handle_uniqueness=False)

    class Member(RedisModel):
        database = db
        namespace = NAMESPACE
        email = fields.StringField(
            unique=True, indexes=[EqualAndRangeIndex, NoUnique.configure(key="other")]
        )

    field = Member.get_field("email")
    assert [index.handles_uniqueness for index in field.indexes] == [True, True, False]
    Member(email="a@b")
    with pytest.raises(UniquenessError):
        Member(email="a@b")
    assert consistency_check(Member) == []


def test_a_composition_is_not_an_index_object(database):
    with pytest.raises(ImplementationError, match="composes no index"):
        MultiIndexes.expand(None, 0)
    with pytest.raises(ImplementationError, match="never an index object"):
        EqualAndRangeIndex(None, 0)
