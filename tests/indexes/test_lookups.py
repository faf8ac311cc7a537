"""Every filter suffix of every index class, checked against a Python computation.

Single-value fields (StringField, InstanceHashField) and multi-value fields
(SetField, ListField, SortedSetField members) each carry an ``EqualIndex``, a
``TextRangeIndex`` and a ``NumberRangeIndex``; the results of each filter are
compared with what Python computes over the same data (text: byte-wise order;
numbers: plain decimal numbers, anything else indexes as 0; multi-value fields:
an instance matches when one of its members does).
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.fields import InstanceHashField, ListField, SetField, SortedSetField, StringField
from django_limpyd.indexes import NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

NAMESPACE = "t_indexes_lookups"

#: stored in the equal and text indexes: prefixes of each other, case, non-ASCII,
#: key and glob separators, whitespace, the empty string, duplicates
TEXT = [
    "a", "ab", "abc", "b", "ab", "B", "aa", "A", "", "é", "éa", "e", "z", "日本", "日", "€",
    "a b", "a:b", "a*", "*", "?", "a?", "[ab]", "a[b", "{a}", "}", "a\nb", "a\n", " a", "zz~",
    "10", "2.5", "-1", "%3A", ":",
]  # fmt: skip

#: stored in the number indexes, with the number each one indexes as
NUMBERS = {
    "10": 10.0, "-5": -5.0, "2.5": 2.5, "1e3": 1000.0, "-0.5": -0.5, "+7": 7.0, " 12 ": 12.0,
    "0": 0.0, "10.0": 10.0, "1.": 1.0, ".5": 0.5, "1E+2": 100.0, "-1e-2": -0.01, "7": 7.0,
    "99999999999": 99999999999.0, "-0": 0.0, "7.0": 7.0, "-1": -1.0, "2.50": 2.5, "5": 5.0,
    "12": 12.0,
    "abc": 0.0, "": 0.0, "x10": 0.0, "12abc": 0.0, "1.2.3": 0.0, "--1": 0.0, "5e": 0.0,
}  # fmt: skip
NUM = list(NUMBERS)

#: members of the multi-value fields (lists keep duplicates)
MULTI = [
    ["a", "b"], ["ab", "abc"], ["abc"], ["b", "B", "é"], ["日本", "a:b", "*"],
    ["{a}", "[ab]", "a\nb", " a"], ["10", "-5", "abc"], ["2.5", "1e3"], ["0", ""],
    ["7", "+7", "7.0"], ["x"], ["ab", "ab", "a"], ["-1e-2", "99999999999", "a b"],
]  # fmt: skip

TEXT_PROBES = [*dict.fromkeys(TEXT), "aa", "abd", "ac", "ä", "zzz", "\U0001f600", "日本語", "c"]
TEXT_PROBES += ["~", "a ", 5, 10, 2.5, -1]
NUMBER_PROBES = [-10, -5, -1, -0.5, -0.01, 0, 0.5, 1, 2.5, 7, 10, 12, 100, 1000, 99999999999, 1e12]
IN_PROBES = [[], ["absent"], ["a", "b", "absent"], ["ab", "ab"], ["", "日本", "*"], TEXT, MULTI[5]]
NUMBER_IN_PROBES = [[], [7], [7, "10", 2.5], ["-0.5", 0, 1e3], [-5.0, "1e2", "99999999999"]]

SINGLE = {  # field: index kind
    "s_eq": "eq", "s_text": "text", "s_num": "num", "h_eq": "eq", "h_text": "text", "h_num": "num",
}  # fmt: skip
MULTIPLE = {
    f"{prefix}_{kind}": kind for prefix in ("set", "list", "zset") for kind in ("eq", "text", "num")
}
SUFFIXES = {
    "eq": ["eq", "in"],
    "text": ["eq", "in", "gt", "gte", "lt", "lte", "startswith"],
    "num": ["eq", "in", "gt", "gte", "lt", "lte"],
}


def as_text(value):
    """A filter value as the string Redis compares (what redis-py sends)."""
    if isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else str(value)


def number(value):
    """The number a stored value indexes as (defined by the table above)."""
    if value in NUMBERS:
        return NUMBERS[value]
    assert not any(char.isdigit() for char in value), f"add {value!r} to NUMBERS"
    return 0.0


def matches(kind, suffix, stored, value):
    """Python's answer: does ``stored`` match the filter ``suffix=value``?"""
    if suffix == "in":
        return any(matches(kind, "eq", stored, item) for item in value)
    if kind == "eq":
        return stored == as_text(value)
    if kind == "text":
        left, right = stored.encode(), as_text(value).encode()
        if suffix == "startswith":
            return left.startswith(right)
    else:
        left, right = number(stored), float(value)
    return {
        "eq": left == right,
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }[suffix]


def expected(data, field, kind, suffix, value):
    """The pks Python finds for ``field__suffix=value``."""
    found = set()
    for pk, row in data.items():
        stored = row.get(field)
        if stored is None:
            continue
        members = [stored] if isinstance(stored, str) else stored
        if any(matches(kind, suffix, member, value) for member in members):
            found.add(pk)
    return found


def probes(kind, suffix):
    if suffix == "in":
        return NUMBER_IN_PROBES if kind == "num" else IN_PROBES
    if kind == "num":
        return [*NUMBER_PROBES, *(str(p) for p in NUMBER_PROBES), *(float(p) for p in [7, -5])]
    return TEXT_PROBES


def filtered(Model, count=False, **filters):
    """The pks of a collection, checking they come once each (and, with ``count``, that
    Redis counts as many)."""
    pks = list(Model.collection(**filters))
    assert len(pks) == len(set(pks)), f"duplicated pks for {filters}: {pks}"
    if count:
        assert len(Model.collection(**filters)) == len(pks), filters
    return set(pks)


def create(Model, rows):
    """Create one instance per row; ``{pk: row}``."""
    return {Model(**row).pk.get(): row for row in rows}


@pytest.fixture
def Single(database):
    db = database

    class Single(RedisModel):
        database = db
        namespace = NAMESPACE
        s_eq = StringField(indexable=True)
        s_text = StringField(indexable=True, indexes=[TextRangeIndex])
        s_num = StringField(indexable=True, indexes=[NumberRangeIndex])
        h_eq = InstanceHashField(indexable=True)
        h_text = InstanceHashField(indexable=True, indexes=[TextRangeIndex])
        h_num = InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        plain = StringField()

    return Single


@pytest.fixture
def single_data(Single):
    rows = []
    for i in range(max(len(TEXT), len(NUM))):
        text, num = TEXT[i % len(TEXT)], NUM[i % len(NUM)]
        rows.append(dict(s_eq=text, s_text=text, h_eq=text, h_text=text, s_num=num, h_num=num))
    rows += [{"plain": "a"}, {"s_eq": "solo", "h_text": "solo"}, {"h_num": "5", "s_text": "a"}]
    data = create(Single, rows)
    assert consistency_check(Single) == []
    return data


@pytest.fixture
def Multi(database):
    db = database

    class Multi(RedisModel):
        database = db
        namespace = NAMESPACE
        set_eq = SetField(indexable=True)
        set_text = SetField(indexable=True, indexes=[TextRangeIndex])
        set_num = SetField(indexable=True, indexes=[NumberRangeIndex])
        list_eq = ListField(indexable=True)
        list_text = ListField(indexable=True, indexes=[TextRangeIndex])
        list_num = ListField(indexable=True, indexes=[NumberRangeIndex])
        zset_eq = SortedSetField(indexable=True)
        zset_text = SortedSetField(indexable=True, indexes=[TextRangeIndex])
        zset_num = SortedSetField(indexable=True, indexes=[NumberRangeIndex])

    return Multi


@pytest.fixture
def multi_data(Multi):
    data = {}
    for members in MULTI:
        row = {name: members for name in MULTIPLE if not name.startswith("zset")}
        scores = {member: i for i, member in enumerate(members)}
        row.update({name: scores for name in MULTIPLE if name.startswith("zset")})
        data[Multi(**row).pk.get()] = {name: list(members) for name in MULTIPLE}
    for name in ("set_text", "list_num", "zset_eq"):  # instances holding one field only
        value = {"ab": 1, "12": 2} if name.startswith("zset") else ["ab", "12"]
        data[Multi(**{name: value}).pk.get()] = {name: ["ab", "12"]}
    assert consistency_check(Multi) == []
    return data


def check_field(Model, data, field, kind):
    for suffix in SUFFIXES[kind]:
        for value in probes(kind, suffix):
            want = expected(data, field, kind, suffix, value)
            found = filtered(Model, count=True, **{f"{field}__{suffix}": value})
            assert found == want, (suffix, value)
            if suffix == "eq":
                assert filtered(Model, **{field: value}) == want, value


@pytest.mark.parametrize("field", list(SINGLE))
def test_single_value_fields(Single, single_data, field):
    check_field(Single, single_data, field, SINGLE[field])


@pytest.mark.parametrize("field", list(MULTIPLE))
def test_multi_value_fields(Multi, multi_data, field):
    check_field(Multi, multi_data, field, MULTIPLE[field])


def test_number_scores_stored(Single, single_data, database):
    """Each value is scored as the number it reads as (non-numbers: 0)."""
    index = Single.get_field("s_num").get_index()
    for pk, row in single_data.items():
        if "s_num" in row:
            score = database.connection.zscore(index.get_storage_key(), pk)
            assert score == NUMBERS[row["s_num"]], row["s_num"]


def test_text_order_is_bytewise(Single, single_data):
    """'a' < 'ab' < 'abc' < 'b'; upper case before lower case; non-ASCII after ASCII."""
    pks = {row.get("s_text"): pk for pk, row in single_data.items()}
    assert filtered(Single, s_text__gt="a", s_text__lt="b") >= {pks["ab"], pks["abc"], pks["aa"]}
    assert pks["a"] not in filtered(Single, s_text__gt="a")
    assert pks["a"] in filtered(Single, s_text__lt="ab")
    assert pks["abc"] not in filtered(Single, s_text__lt="ab")
    assert pks["B"] in filtered(Single, s_text__lt="a")
    assert pks["é"] in filtered(Single, s_text__gt="z")
    assert pks[""] in filtered(Single, s_text__lt="A")
    assert filtered(Single, s_text__startswith="日") == {pks["日本"], pks["日"]}


RANGES = [
    {"s_num__gte": 0, "s_num__lt": 10},
    {"s_num__gt": "-1", "s_num__lte": 12.0},
    {"h_num__gte": -5, "h_num__lte": -0.01},
    {"h_num__gt": 0, "h_num__lt": "1e12", "h_num__in": [7, 10, 12, 1000]},
    {"s_text__gte": "a", "s_text__lt": "b"},
    {"s_text__startswith": "a", "s_text__gt": "ab"},
    {"h_text__gt": "", "h_text__lte": "a\n"},
    {"s_text__startswith": "a", "s_num__gt": 0},
    {"s_eq": "ab", "h_text__gte": "a"},
    {"s_eq__in": ["a", "b", "ab"], "h_num__lt": 10, "h_text__startswith": "a"},
    {"s_eq": "absent", "s_text__gte": "a"},
]


@pytest.mark.parametrize("filters", RANGES, ids=lambda filters: ",".join(filters))
def test_single_filters_are_anded(Single, single_data, database, filters):
    want = set(single_data)
    for name, value in filters.items():
        field, suffix = name.split("__") if "__" in name else (name, "eq")
        want &= expected(single_data, field, SINGLE[field], suffix, value)
    database.load_scripts()
    with assert_num_commands(1, database, round_trips=1):
        assert filtered(Single, **filters) == want
    assert Single.collection(**filters).count() == len(want)
    first, *others = filters.items()
    chained = Single.collection(**dict([first]))(**dict(others))
    assert set(chained) == want


MULTI_RANGES = [
    {"set_num__gte": 5, "set_num__lt": 8},  # one member may satisfy each filter
    {"list_num__gt": 0, "list_num__lt": 1},
    {"zset_text__gte": "a", "zset_text__lt": "ab"},
    {"set_eq": "a", "list_text__startswith": "a"},
    {"zset_eq__in": ["b", "日本"], "set_num__lte": 0, "list_text__gt": "B"},
]


@pytest.mark.parametrize("filters", MULTI_RANGES, ids=lambda filters: ",".join(filters))
def test_multi_filters_are_anded(Multi, multi_data, filters):
    want = set(multi_data)
    for name, value in filters.items():
        field, suffix = name.split("__") if "__" in name else (name, "eq")
        want &= expected(multi_data, field, MULTIPLE[field], suffix, value)
    assert filtered(Multi, **filters) == want
    assert len(Multi.collection(**filters)) == len(want)


def test_pk_filters(Single, single_data, database):
    pks = sorted(single_data, key=int)
    assert filtered(Single, pk=pks[0]) == {pks[0]}
    assert filtered(Single, pk=int(pks[1])) == {pks[1]}
    assert filtered(Single, pk__eq=pks[2]) == {pks[2]}
    assert filtered(Single, pk="999999") == set()
    assert filtered(Single, pk__in=[pks[0], int(pks[3]), "999999", pks[0]]) == {pks[0], pks[3]}
    assert filtered(Single, pk__in=[]) == set()
    text_a = expected(single_data, "s_text", "text", "startswith", "a")
    assert filtered(Single, pk__in=pks[:10], s_text__startswith="a") == text_a & set(pks[:10])
    assert filtered(Single, pk=pks[0], s_eq="absent") == set()
    with assert_num_commands(0, database):
        assert list(Single.collection(pk__in=[])) == []
        assert list(Single.collection(s_eq__in=[])) == []
