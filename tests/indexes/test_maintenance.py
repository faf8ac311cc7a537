"""Clearing and rebuilding indexes: ``index.clear()``, ``index.rebuild()``,
``field.clear_indexes()``, ``field.rebuild_indexes()``.

A rebuild must give back exactly the entries the writes made (same keys, same
members, same scores), chunk by chunk, whatever the pks contain; a clear must
remove one index's entries and nothing else (not another index of the field,
another field, nor a model whose name starts like this one's).
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.fields import (
    InstanceHashField,
    ListField,
    PKField,
    SetField,
    SortedSetField,
    StringField,
)
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

NAMESPACE = "t_indexes_maintenance"
COUNT = 50

UPPER = TextRangeIndex.configure(key="upper", transform=lambda value: value.upper())
LOWER = EqualIndex.configure(prefix="lower", transform=lambda value: value.lower())
TRICKY_PKS = ["a*", "b?", "[c]", "\\d", "{e}", "f:g", "h]", "*", "?", "x:*:y", "é", " s p ", "%2A"]


def define(db, name="Foo", namespace=NAMESPACE, pk=False):
    """A model with every kind of indexed field (``pk``: a PKField named ``id``)."""
    attrs = {
        "__module__": __name__,
        "__qualname__": f"define.<locals>.{name}",
        "database": db,
        "namespace": namespace,
        "name": StringField(indexable=True),
        "names": StringField(indexable=True, indexes=[EqualIndex, LOWER]),
        "text": InstanceHashField(indexable=True, indexes=[TextRangeIndex]),
        "num": StringField(indexable=True, indexes=[NumberRangeIndex]),
        "tags": SetField(indexable=True, indexes=[EqualIndex, UPPER]),
        "items": ListField(indexable=True, indexes=[NumberRangeIndex]),
        "ranked": SortedSetField(indexable=True),
    }
    if pk:
        attrs["id"] = PKField()
    return type(RedisModel)(name, (RedisModel,), attrs)


def populate(Model, pks=None):
    pks = pks or [None] * COUNT
    for i, pk in enumerate(pks):
        values = dict(
            name=f"name{i % 7}",
            names=f"Name{i}:*",
            text=f"t{i:03d}" if i % 4 else "",
            num=str(i * 1.5 - 10) if i % 5 else "not a number",
            tags=[f"tag{i % 3}", f"x{i % 5}", "é"],
            items=[str(i % 4), str(i % 4), "-1.5"],
            ranked={f"r{i % 6}": i, "[*]": 1},
        )
        if pk is not None:
            values["id"] = pk
        Model(**values)


def index_dump(database, Model, field=None):
    """``{key: members (a set) or {member: score}}`` of the model's index keys."""
    keys = Model._meta.keys
    prefix = keys.prefix + ":x:" + ("" if field is None else field + ":")
    connection = database.connection
    found = list(connection.scan_iter(match=keys.pattern_after(prefix), count=1000))
    pipe = connection.pipeline(transaction=False)
    for key in found:
        pipe.type(key)
    types = pipe.execute()
    for key, kind in zip(found, types, strict=True):
        if kind == "set":
            pipe.smembers(key)
        else:
            pipe.zrange(key, 0, -1, withscores=True)
    values = pipe.execute()
    return {
        key: value if kind == "set" else dict(value)
        for key, kind, value in zip(found, types, values, strict=True)
    }


def index_keys(database, index):
    """The Redis keys holding entries of ``index``."""
    pattern = index.field.model._meta.keys.pattern_after(index.storage_base)
    return set(database.connection.scan_iter(match=pattern, count=1000))


def pks_where(test):
    """The pks (1..50) of the instances populate() made whose number ``i`` passes ``test``."""
    return {str(i + 1) for i in range(COUNT) if test(i)}


#: a filter per field, with the pks Python expects among populate()'s instances
FILTERS = {
    "name": ({"name": "name3"}, pks_where(lambda i: i % 7 == 3)),
    "names": ({"names__lower": "name12:*"}, {"13"}),
    "text": ({"text__startswith": "t01"}, pks_where(lambda i: 10 <= i < 20 and i % 4)),
    "num": (
        {"num__gte": 20, "num__lt": 30},
        pks_where(lambda i: i % 5 and 20 <= i * 1.5 - 10 < 30),
    ),
    "tags": ({"tags": "x4"}, pks_where(lambda i: i % 5 == 4)),
    "items": ({"items__gt": 2}, pks_where(lambda i: i % 4 == 3)),
    "ranked": ({"ranked__in": ["r5", "r0"]}, pks_where(lambda i: i % 6 in (0, 5))),
}


@pytest.fixture
def Foo(database):
    Foo = define(database)
    populate(Foo)
    assert consistency_check(Foo) == []
    return Foo


def check_filters(Model, working=True):
    for field, (filters, expected) in FILTERS.items():
        assert set(Model.collection(**filters)) == (expected if working else set()), field


INDEXES = [(field, 0) for field in FILTERS] + [("names", 1), ("tags", 1)]


@pytest.mark.parametrize(("field", "position"), INDEXES)
def test_index_clear_and_rebuild(Foo, database, field, position):
    chunk_size = 7  # fewer than the instances, and than the keys of an EqualIndex
    index = Foo.get_field(field).indexes[position]
    before = index_dump(database, Foo)
    own = index_keys(database, index)
    assert own and own <= set(before)
    assert index.clear(chunk_size) == len(own)
    assert index_keys(database, index) == set()
    assert index_dump(database, Foo) == {k: v for k, v in before.items() if k not in own}
    assert consistency_check(Foo) != []  # entries are missing
    if position == (1 if field == "names" else 0):  # the filter goes through this index
        filters, _ = FILTERS[field]
        assert set(Foo.collection(**filters)) == set()
    assert index.rebuild(chunk_size) == COUNT
    assert index_dump(database, Foo) == before  # the entries the writes made, exactly
    assert consistency_check(Foo) == []
    check_filters(Foo)


@pytest.mark.parametrize("aggressive", [False, True])
@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_field_clear_and_rebuild_indexes(Foo, database, chunk_size, aggressive):
    before = index_dump(database, Foo)
    for name in FILTERS:
        field = Foo.get_field(name)
        own = set().union(*(index_keys(database, index) for index in field.indexes))
        assert field.clear_indexes(chunk_size=chunk_size, aggressive=aggressive) == len(own)
        assert set(index_dump(database, Foo)) == set(before) - own
        assert field.rebuild_indexes(chunk_size=chunk_size) > 0
        assert index_dump(database, Foo) == before
    for name in FILTERS:
        Foo.get_field(name).clear_indexes(chunk_size=chunk_size, aggressive=aggressive)
    assert index_dump(database, Foo) == {}
    check_filters(Foo, working=False)
    for name in FILTERS:
        Foo(str(COUNT)).get_field(name).rebuild_indexes(chunk_size=chunk_size)  # a bound field
    assert index_dump(database, Foo) == before
    assert consistency_check(Foo) == []
    check_filters(Foo)


def test_string_pks_with_glob_characters(database):
    Tricky = define(database, "Tricky", pk=True)
    pks = [f"{pk}{i}" for i in range(4) for pk in TRICKY_PKS]
    populate(Tricky, pks)
    assert consistency_check(Tricky) == []
    before = index_dump(database, Tricky)
    for name in FILTERS:
        Tricky.get_field(name).clear_indexes(chunk_size=7)
    assert index_dump(database, Tricky) == {}
    for name in FILTERS:
        Tricky.get_field(name).rebuild_indexes(chunk_size=7)
    assert index_dump(database, Tricky) == before
    assert consistency_check(Tricky) == []
    expected = {pk for i, pk in enumerate(pks) if i % 7 == 3}
    assert set(Tricky.collection(name="name3")) == expected
    assert set(Tricky.collection(pk__in=pks[:3], name="name1")) == {pks[1]}


def test_rebuild_removes_stale_entries(Foo, database):
    name = Foo.get_field("name").get_index()
    num = Foo.get_field("num").get_index()
    connection = database.connection
    connection.sadd(name.storage_base + "ghost", "1", "999")
    connection.srem(name.get_storage_key("name0"), "1")
    connection.zadd(num.storage_base, {"999": 3, "1": 42})
    assert len(consistency_check(Foo)) == 5
    name.rebuild()
    num.rebuild()
    assert consistency_check(Foo) == []
    assert not connection.exists(name.storage_base + "ghost")
    check_filters(Foo)


def test_index_added_to_field_with_data(database):
    def version(**options):
        db = database

        class Late(RedisModel):
            database = db
            namespace = NAMESPACE
            label = StringField(**options)
            other = StringField(indexable=True)

        return Late

    Plain = version()
    for i in range(COUNT):
        Plain(label=f"label{i % 4}", other=f"o{i % 2}")
    data_keys = set(database.scan_keys())
    expected = pks_where(lambda i: i % 4 == 1)

    Indexed = version(indexable=True)  # the same class defined again replaces the registration
    assert Indexed._meta.database.models[(NAMESPACE, "Late")] is Indexed
    assert list(Indexed.collection(label="label1")) == []  # not indexed yet
    assert consistency_check(Indexed) != []
    Indexed.get_field("label").rebuild_indexes(chunk_size=7)
    assert data_keys <= set(database.scan_keys())
    assert consistency_check(Indexed) == []
    assert set(Indexed.collection(label="label1")) == expected

    Ranged = version(
        indexable=True, indexes=[EqualIndex, TextRangeIndex]
    )  # one more index on the field
    text_index = Ranged.get_field("label").get_index(index_class=TextRangeIndex)
    assert text_index.rebuild(chunk_size=7) == COUNT
    assert consistency_check(Ranged) == []
    assert set(Ranged.collection(label="label1")) == expected
    assert set(Ranged.collection(label__gt="label2", other="o1")) == pks_where(lambda i: i % 4 == 3)
    Ranged("2").label.set("moved")  # writes keep the rebuilt indexes up to date
    assert consistency_check(Ranged) == []
    assert set(Ranged.collection(label="label1")) == expected - {"2"}
    assert set(Ranged.collection(label__startswith="mo")) == {"2"}


def test_clear_touches_nothing_else(database):
    Foo = define(database)
    FooBar = define(database, "FooBar")
    Elsewhere = define(database, "Foo", namespace=NAMESPACE + "_other")
    for model in (Foo, FooBar, Elsewhere):
        populate(model)
    dumps = {model: index_dump(database, model) for model in (FooBar, Elsewhere)}
    names_before = index_dump(database, Foo, "names")
    tags_before = index_dump(database, Foo, "tags")
    tags = Foo.get_field("tags")
    upper_keys = index_keys(database, tags.get_index(key="upper"))
    assert Foo.get_field("name").clear_indexes(chunk_size=3) == 7
    assert index_dump(database, Foo, "name") == {}
    assert index_dump(database, Foo, "names") == names_before  # a field named like it
    tags.get_index(index_class=EqualIndex).clear(chunk_size=3)
    assert index_keys(database, tags.get_index(key="upper")) == upper_keys
    assert index_dump(database, Foo, "tags") == {
        key: value for key, value in tags_before.items() if key in upper_keys
    }
    for model, dump in dumps.items():
        assert index_dump(database, model) == dump, model
        assert consistency_check(model) == []
        check_filters(model)
    assert set(Foo.collection(names="Name3:*")) == {"4"}
    assert set(Foo.collection(tags__gte="X", tags__lt="Y")) == {str(i) for i in range(1, COUNT + 1)}


ASCII_NUMBERS = [
    " 12 ", "+7", "1.", ".5", "1E+2", "-0", "1e400", "-1e400", "1e-400", "0.1234567890123456789",
    "9007199254740993", "\t3\n", "1e5.5", "0x10", "inf", "nan", "1_000", "", "--1",
]  # fmt: skip
UNICODE_NUMBERS = ["١٢", "\xa05", "\uff15", "\x1c5", "5\u2003"]


def rebuild_agrees_with_writes(database, values):
    Numbers = define(database, "Numbers")
    for value in values:
        Numbers(num=value, items=[value, "1"])
    before = index_dump(database, Numbers)
    for field in ("num", "items"):
        Numbers.get_field(field).rebuild_indexes(chunk_size=7)
    assert index_dump(database, Numbers) == before
    assert consistency_check(Numbers) == []


def test_rebuild_scores_numbers_like_writes(database):
    rebuild_agrees_with_writes(database, ASCII_NUMBERS)


@pytest.mark.parametrize("value", UNICODE_NUMBERS)
def test_rebuild_scores_unicode_numbers_like_writes(database, value):
    rebuild_agrees_with_writes(database, [value])
