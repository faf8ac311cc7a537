"""Date and time indexes: built as the seeds build them, every filter suffix of each,
checked against the same filter computed in Python; consistency after every write."""

from __future__ import annotations

import operator

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.indexes import (
    DateIndex,
    DateIndexParts,
    DateRangeIndex,
    DateSimpleTimeIndex,
    DateTimeIndex,
    DayIndex,
    FullDateTimeRangeIndex,
    HourIndex,
    MinuteIndex,
    MonthIndex,
    MultiIndexes,
    SecondIndex,
    SimpleDateTimeIndex,
    TimeIndex,
    TimeIndexParts,
    TimeRangeIndex,
    YearIndex,
)
from django_limpyd.exceptions import ImplementationError, UniquenessError
from django_limpyd.indexes import NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel

NAMESPACE = "t_contrib_dates"

DATETIMES = [
    "2015-12-21 15:30:00",
    "2015-12-21 09:05:59",
    "2015-01-02 15:00:00",
    "2014-12-31 23:59:59",
    "2016-02-29 00:00:00",
    "2015-06-15 12:30:45.123456",  # longer than date+time: restricted to 19 characters
    "2013-07-04 09:30:00",
    "2015-12-22 15:30:01",
]
DATES = [value[:10] for value in DATETIMES]
TIMES = [value[11:19] for value in DATETIMES]

# what each prefix of a date/time index sees of a stored value, and how it compares
DATETIME_PARTS = {
    None: ("text", lambda v: v[:19]),
    "date": ("text", lambda v: v[:10]),
    "time": ("text", lambda v: v[11:19]),
    "year": ("num", lambda v: int(v[:4])),
    "month": ("num", lambda v: int(v[5:7])),
    "day": ("num", lambda v: int(v[8:10])),
    "hour": ("num", lambda v: int(v[11:13])),
    "minute": ("num", lambda v: int(v[14:16])),
    "second": ("num", lambda v: int(v[17:19])),
}
DATE_PARTS = {
    None: ("text", lambda v: v[:10]),
    "year": DATETIME_PARTS["year"],
    "month": DATETIME_PARTS["month"],
    "day": DATETIME_PARTS["day"],
}
TIME_PARTS = {
    None: ("text", lambda v: v[:8]),
    "hour": ("num", lambda v: int(v[0:2])),
    "minute": ("num", lambda v: int(v[3:5])),
    "second": ("num", lambda v: int(v[6:8])),
}

# index -> (values stored, prefixes it handles, prefixes it does not)
CASES = {
    "DateTimeIndex": (DateTimeIndex, DATETIMES, DATETIME_PARTS, []),
    "DateSimpleTimeIndex": (
        DateSimpleTimeIndex,
        DATETIMES,
        {k: v for k, v in DATETIME_PARTS.items() if k not in ("hour", "minute", "second")},
        ["hour", "minute", "second"],
    ),
    "SimpleDateTimeIndex": (
        SimpleDateTimeIndex,
        DATETIMES,
        {k: DATETIME_PARTS[k] for k in (None, "date", "time")},
        ["year", "month", "day", "hour", "minute", "second"],
    ),
    "DateIndex": (DateIndex, DATES, DATE_PARTS, ["date", "time", "hour"]),
    "TimeIndex": (TimeIndex, TIMES, TIME_PARTS, ["time", "date", "year"]),
}

COMPARE = {
    "eq": operator.eq,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def make_model(database, index, name="Event"):
    db = database
    attrs = {
        "database": db,
        "namespace": NAMESPACE,
        "__module__": __name__,
        "when": fields.InstanceHashField(indexable=True, indexes=[index]),
        "other": fields.StringField(indexable=True, indexes=[index]),
    }
    return type(name, (RedisModel,), attrs)


def filters_for(prefix, kind, extract, values):
    """``(filter name, filter value, predicate on a stored value)`` for every suffix."""
    seen = sorted({extract(value) for value in values})
    pivot = seen[len(seen) // 2]
    head = f"__{prefix}" if prefix else ""
    cases = []
    operands = [pivot]
    if kind == "text":
        operands.append(pivot[: max(len(pivot) - 3, 1)])  # a shorter text
    for operand in operands:
        for suffix, compare in COMPARE.items():
            cases.append(
                (
                    f"{head}__{suffix}",
                    operand,
                    lambda v, c=compare, o=operand: c(extract(v), o),
                )
            )
    cases.append((head, pivot, lambda v: extract(v) == pivot))  # the bare filter
    chosen = [seen[0], seen[-1]]
    absent = "0000" if kind == "text" else 99
    cases.append((f"{head}__in", [*chosen, absent], lambda v: extract(v) in chosen))
    if kind == "text":
        start = pivot[:4]
        cases.append((f"{head}__startswith", start, lambda v: extract(v).startswith(start)))
    else:  # numbers given as text work too
        cases.append((f"{head}__eq", str(pivot), lambda v: extract(v) == pivot))
    return cases


def all_filters(parts, values):
    return [
        (case, prefix)
        for prefix, (kind, extract) in parts.items()
        for case in filters_for(prefix, kind, extract, values)
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_every_suffix(database, case):
    index, values, parts, unhandled = CASES[case]
    Event = make_model(database, index)
    by_pk = {}
    for value in values:
        event = Event(when=value, other=value)
        by_pk[event.pk.get()] = value
    assert consistency_check(Event) == []
    checked = 0
    for field_name in ("when", "other"):
        for (suffix, operand, predicate), _prefix in all_filters(parts, values):
            name = field_name + suffix
            expected = {pk for pk, value in by_pk.items() if predicate(value)}
            found = set(Event.collection(**{name: operand}))
            assert found == expected, (name, operand)
            checked += 1
        for prefix in unhandled:
            with pytest.raises(ImplementationError, match=f"Event.{field_name}"):
                Event.collection(**{f"{field_name}__{prefix}": "1"})
    assert checked >= 2 * 14 * len(parts) // 2
    # updates and deletes keep every part exact
    pks = list(by_pk)
    event = Event(pks[0])
    event.when.hset(values[-1])
    event.other.set(values[-1])
    by_pk[pks[0]] = values[-1]
    assert consistency_check(Event) == []
    Event(pks[1]).delete()
    del by_pk[pks[1]]
    Event(pks[2]).when.delete()
    assert consistency_check(Event) == []
    for (suffix, operand, predicate), _prefix in all_filters(parts, values):
        expected = {pk for pk, value in by_pk.items() if predicate(value)}
        assert set(Event.collection(**{"other" + suffix: operand})) == expected


def test_seed_filters_on_datetimes(database):
    Event = make_model(database, DateTimeIndex)
    for value in DATETIMES:
        Event(when=value)
    # datetime_field__date__gt=2015, datetime_field__time__gt='15:',
    # datetime_field__gt='2015-12-21 15:'
    assert set(Event.collection(when__date__gt=2015)) == {"1", "2", "3", "5", "6", "8"}
    assert set(Event.collection(when__time__gt="15:")) == {"1", "3", "4", "8"}
    assert set(Event.collection(when__gt="2015-12-21 15:")) == {"1", "5", "8"}
    assert set(Event.collection(when__year=2015)) == {"1", "2", "3", "6", "8"}
    assert set(Event.collection(when__year=2015, when__month=12, when__hour__gte=15)) == {
        "1",
        "8",
    }
    assert set(Event.collection(when__date="2015-12-21")) == {"1", "2"}
    assert set(Event.collection(when__time="15:30:00")) == {"1"}
    assert set(Event.collection(when="2015-06-15 12:30:45")) == {"6"}
    assert set(Event.collection(when="2015-06-15 12:30:45.123456")) == set()


def test_seed_construction():
    """The classes are the seeds' compositions, part by part."""
    assert (YearIndex.prefix, YearIndex.handle_uniqueness) == ("year", False)
    assert [YearIndex.transform(v) for v in ("2015-12-21",)] == ["2015"]
    assert (MonthIndex.transform("2015-12-21"), DayIndex.transform("2015-12-21")) == ("12", "21")
    assert (HourIndex.transform("15:30:45"), MinuteIndex.transform("15:30:45")) == ("15", "30")
    assert SecondIndex.transform("15:30:45") == "45"
    for part in (YearIndex, MonthIndex, DayIndex, HourIndex, MinuteIndex, SecondIndex):
        assert issubclass(part, NumberRangeIndex) and part.handle_uniqueness is False
    assert DateIndexParts.index_classes == (YearIndex, MonthIndex, DayIndex)
    assert TimeIndexParts.index_classes == (HourIndex, MinuteIndex, SecondIndex)
    assert (DateRangeIndex.key, DateRangeIndex.prefix) == ("date", None)
    assert (TimeRangeIndex.key, TimeRangeIndex.prefix) == ("time", None)
    assert issubclass(DateRangeIndex, TextRangeIndex) and issubclass(TimeRangeIndex, TextRangeIndex)
    assert DateRangeIndex.transform("2015-12-21 15:30") == "2015-12-21"
    assert TimeRangeIndex.transform("15:30:45.5") == "15:30:45"
    assert DateIndex.index_classes == (DateRangeIndex, DateIndexParts)
    assert TimeIndex.index_classes == (TimeRangeIndex, TimeIndexParts)
    assert FullDateTimeRangeIndex.key == "full"
    names = {
        index.__name__: index
        for index in (DateIndex, TimeIndex, SimpleDateTimeIndex, DateSimpleTimeIndex, DateTimeIndex)
    }
    assert set(names) == {
        "DateIndex",
        "TimeIndex",
        "SimpleDateTimeIndex",
        "DateSimpleTimeIndex",
        "DateTimeIndex",
    }
    assert all(issubclass(index, MultiIndexes) for index in names.values())
    assert DateSimpleTimeIndex.transform("2015-12-21 15:30:00.5") == "2015-12-21 15:30:00"
    assert DateTimeIndex.index_classes[0] is DateSimpleTimeIndex
    assert DateTimeIndex.index_classes[1].index_classes == TimeIndexParts.index_classes


def test_structure_of_a_datetime_field(database):
    Event = make_model(database, DateTimeIndex)
    field = Event.get_field("when")
    described = [
        (type(index).__name__, index.id, index.prefix, index.key, index.handles_uniqueness)
        for index in field.indexes
    ]
    assert described == [
        ("FullDateTimeRangeIndex", "when/0.0.0", None, "full", False),
        ("DateRangeIndex", "when/0.0.1", "date", "date", False),
        ("YearIndex", "when/0.0.2.0", "year", None, False),
        ("MonthIndex", "when/0.0.2.1", "month", None, False),
        ("DayIndex", "when/0.0.2.2", "day", None, False),
        ("TimeRangeIndex", "when/0.0.3", "time", "time", False),
        ("HourIndex", "when/0.1.0", "hour", None, False),
        ("MinuteIndex", "when/0.1.1", "minute", None, False),
        ("SecondIndex", "when/0.1.2", "second", None, False),
    ]
    value = "2015-12-21 15:30:45.999"
    assert [index.transform_value(value) for index in field.indexes] == [
        "2015-12-21 15:30:45",
        "2015-12-21",
        "2015",
        "12",
        "21",
        "15:30:45",
        "15",
        "30",
        "45",
    ]
    assert field.get_index(prefix="year") is field.indexes[2]
    assert field.get_index(key="full") is field.indexes[0]


def test_unique_datetime_is_unique_on_the_whole_value(database):
    db = database

    class Meeting(RedisModel):
        database = db
        namespace = NAMESPACE
        start = fields.StringField(unique=True, indexes=[DateTimeIndex])
        day = fields.StringField(unique=True, indexes=[DateIndex])

    Meeting(start="2015-12-21 15:30:00", day="2015-12-21")
    Meeting(start="2015-12-21 16:30:00", day="2015-12-22")  # same date, other time
    Meeting(start="2016-12-21 15:30:00")  # same time, other date
    with pytest.raises(UniquenessError, match="Meeting.start"):
        Meeting(start="2015-12-21 15:30:00")
    with pytest.raises(UniquenessError, match="Meeting.day"):
        Meeting(day="2015-12-21")
    # restricted to 19 characters before indexing: the same date+time
    with pytest.raises(UniquenessError, match="Meeting.start"):
        Meeting(start="2015-12-21 15:30:00.5")
    assert consistency_check(Meeting) == []


def test_rebuild_of_composed_parts(database):
    Event = make_model(database, DateTimeIndex)
    for value in DATETIMES:
        Event(when=value)
    field = Event.get_field("when")
    assert field.clear_indexes() == len(field.indexes)
    assert consistency_check(Event) != []
    assert list(Event.collection(when__year=2015)) == []
    assert field.rebuild_indexes() == len(DATETIMES) * len(field.indexes)
    assert consistency_check(Event) == []
    assert set(Event.collection(when__year=2015)) == {"1", "2", "3", "6", "8"}
