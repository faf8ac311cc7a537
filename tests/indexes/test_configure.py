"""``Index.configure``: prefixes, keys, transforms, uniqueness, several indexes per field.

Also ``field.get_index`` and ``index.get_storage_key``. After every write the
indexes must match the data exactly (``consistency_check`` finds nothing).
"""

from __future__ import annotations

import pytest

from django_limpyd.consistency import consistency_check
from django_limpyd.exceptions import ImplementationError, InvalidValue, UniquenessError
from django_limpyd.fields import InstanceHashField, SetField, StringField
from django_limpyd.indexes import BaseIndex, EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

NAMESPACE = "t_indexes_configure"

YearIndex = NumberRangeIndex.configure(
    prefix="year", transform=lambda value: value[:4], handle_uniqueness=False, name="YearIndex"
)
MonthIndex = NumberRangeIndex.configure(prefix="month", transform=lambda value: value[5:7])
FullIndex = TextRangeIndex.configure(key="full", name="FullDateTimeRangeIndex")
DateRangeIndex = TextRangeIndex.configure(key="date", transform=lambda value: value[:10])
TimeRangeIndex = TextRangeIndex.configure(key="time", prefix="time", transform=lambda v: v[11:])


def tagged(index, value):
    """A transform of ``(index, value)``."""
    return f"{index.field.name}={value}"


def digits_only(value):
    return value if value.isdigit() else None


def pks(collection):
    return set(collection)


def test_configure_returns_a_new_class():
    assert issubclass(YearIndex, NumberRangeIndex) and YearIndex is not NumberRangeIndex
    assert YearIndex.__name__ == "YearIndex"
    assert (YearIndex.prefix, YearIndex.handle_uniqueness, YearIndex.key) == ("year", False, None)
    assert YearIndex.transform("2015-06-01") == "2015"
    # the original is unchanged
    assert NumberRangeIndex.prefix is None and NumberRangeIndex.transform is None
    assert NumberRangeIndex.handle_uniqueness is True and NumberRangeIndex.key is None
    assert NumberRangeIndex.__name__ == "NumberRangeIndex"
    # no name: the class keeps its parent's; unset settings are inherited
    assert MonthIndex.__name__ == "NumberRangeIndex" and MonthIndex is not NumberRangeIndex
    keyed = YearIndex.configure(key="other")
    assert (keyed.prefix, keyed.key, keyed.handle_uniqueness) == ("year", "other", False)
    assert keyed.transform("2015-06-01") == "2015" and YearIndex.key is None
    assert YearIndex.configure(transform=None).transform is None
    assert issubclass(EqualIndex.configure(), BaseIndex)
    with pytest.raises(ImplementationError, match="callable"):
        EqualIndex.configure(transform="lower")


@pytest.fixture
def Event(database):
    db = database

    class Event(RedisModel):
        database = db
        namespace = NAMESPACE
        date = StringField(indexable=True, indexes=[TextRangeIndex, YearIndex, MonthIndex])
        when = InstanceHashField(
            indexable=True, indexes=[FullIndex, DateRangeIndex, TimeRangeIndex]
        )

    return Event


DATES = ["2013-05-01", "2014-12-31", "2015-01-15", "2015-06-01", "2016-02-29", "2015-11-30"]


def test_prefix_filters(Event, database):
    by_date = {date: Event(date=date).pk.get() for date in DATES}
    assert consistency_check(Event) == []

    def having(test):
        return {pk for date, pk in by_date.items() if test(date)}

    def year(date):
        return int(date[:4])

    def month(date):
        return int(date[5:7])

    assert pks(Event.collection(date__year=2015)) == having(lambda d: year(d) == 2015)
    assert pks(Event.collection(date__year__eq="2015")) == having(lambda d: year(d) == 2015)
    assert pks(Event.collection(date__year__gt=2014)) == having(lambda d: year(d) > 2014)
    assert pks(Event.collection(date__year__lte="2014")) == having(lambda d: year(d) <= 2014)
    assert pks(Event.collection(date__year__in=[2013, 2016])) == having(
        lambda d: year(d) in (2013, 2016)
    )
    assert pks(Event.collection(date__year__gte=2014, date__year__lt=2016)) == having(
        lambda d: 2014 <= year(d) < 2016
    )
    month_index = Event.get_field("date").get_index(prefix="month")
    scores = dict(database.connection.zrange(month_index.get_storage_key(), 0, -1, withscores=True))
    assert scores == {pk: month(date) for date, pk in by_date.items()}
    # the index without prefix still answers the plain suffixes
    assert pks(Event.collection(date__gt="2015")) == having(lambda d: d > "2015")
    assert pks(Event.collection(date__startswith="2015-0")) == having(lambda d: d[:6] == "2015-0")
    assert pks(Event.collection(date="2015-06-01")) == {by_date["2015-06-01"]}
    assert pks(Event.collection(date="2015")) == set()

    instance = Event(by_date["2015-06-01"])
    instance.date.set("2017-06-02")
    assert consistency_check(Event) == []
    assert pks(Event.collection(date__year=2017, date__startswith="2017-06")) == {
        by_date["2015-06-01"]
    }
    assert by_date["2015-06-01"] not in pks(Event.collection(date__year=2015))
    instance.delete()
    assert consistency_check(Event) == []
    assert pks(Event.collection(date__year=2017)) == set()


@pytest.mark.parametrize("name", ["date__year__startswith", "date__day", "date__year__month"])
def test_prefix_errors(Event, database, name):
    with assert_num_commands(0, database), pytest.raises(ImplementationError) as raised:
        Event.collection(**{name: "2"})
    assert "Event" in str(raised.value) and "date" in str(raised.value)


def test_bad_value_message_names_the_prefixed_filter(Event, database):
    with assert_num_commands(0, database), pytest.raises(InvalidValue, match="date__year__gt"):
        Event.collection(date__year__gt="x")


def test_key_separates_indexes_of_one_class(Event, database):
    values = ["2015-06-01 12:30:00", "2015-06-01 08:00:00", "2015-06-02 12:30:00"]
    by_value = {value: Event(when=value).pk.get() for value in values}
    assert consistency_check(Event) == []
    field = Event.get_field("when")
    keys = [index.get_storage_key() for index in field.indexes]
    assert len(set(keys)) == 3
    connection = database.connection
    full, date, time = (set(connection.zrange(key, 0, -1)) for key in keys)
    assert full == {f"{value}\0{pk}" for value, pk in by_value.items()}
    assert date == {f"{value[:10]}\0{pk}" for value, pk in by_value.items()}
    assert time == {f"{value[11:]}\0{pk}" for value, pk in by_value.items()}
    # the first index without prefix answers `when__...`; the prefixed one `when__time__...`
    assert pks(Event.collection(when__gt="2015-06-01 10")) == {
        by_value["2015-06-01 12:30:00"],
        by_value["2015-06-02 12:30:00"],
    }
    assert pks(Event.collection(when=values[1])) == {by_value[values[1]]}
    Event(by_value[values[0]]).when.hset("2020-01-01 00:00:00")
    assert consistency_check(Event) == []
    assert pks(Event.collection(when__gte="2020")) == {by_value[values[0]]}
    assert f"00:00:00\0{by_value[values[0]]}" in connection.zrange(keys[2], 0, -1)


def test_indexes_sharing_storage_are_refused(database):
    db = database
    with pytest.raises(ImplementationError):

        class Clash(RedisModel):
            database = db
            namespace = NAMESPACE
            name = StringField(
                indexable=True,
                indexes=[TextRangeIndex, TextRangeIndex.configure(transform=str.upper)],
            )


@pytest.fixture
def Person(database):
    db = database

    class Person(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField(
            indexable=True,
            indexes=[
                EqualIndex,
                EqualIndex.configure(prefix="lower", transform=lambda value: value.lower()),
                EqualIndex.configure(prefix="tagged", transform=tagged),
                NumberRangeIndex.configure(prefix="len", transform=len),
                TextRangeIndex,
            ],
        )
        code = InstanceHashField(
            indexable=True, indexes=[EqualIndex.configure(transform=digits_only)]
        )
        tags = SetField(
            indexable=True, indexes=[EqualIndex.configure(transform=lambda value: value.lower())]
        )

    return Person


def test_transforms(Person, database):
    john = Person(name="John").pk.get()
    shouty = Person(name="JOHN").pk.get()
    jo = Person(name="Jo").pk.get()
    assert consistency_check(Person) == []
    assert pks(Person.collection(name="John")) == {john}
    assert pks(Person.collection(name__lower="john")) == {john, shouty}
    assert pks(Person.collection(name__lower__in=["jo", "nobody"])) == {jo}
    connection = database.connection
    name = Person.get_field("name")
    tagged_base = name.get_index(prefix="tagged").storage_base
    assert connection.smembers(tagged_base + "name=JOHN") == {shouty}  # (index, value)
    length = name.get_index(prefix="len").get_storage_key()
    assert dict(connection.zrange(length, 0, -1, withscores=True)) == {john: 4, shouty: 4, jo: 2}
    assert pks(Person.collection(name__gte="JO", name__lt="Joh")) == {jo, shouty}
    Person(john).name.set("Johnny")
    assert consistency_check(Person) == []
    assert pks(Person.collection(name__lower="john")) == {shouty}
    assert pks(Person.collection(name__lower="johnny")) == {john}
    assert connection.zscore(length, john) == 6
    assert not connection.exists(tagged_base + "name=John")


def test_transform_returning_none_does_not_index(Person, database):
    letters = Person(code="abc").pk.get()
    digits = Person(code="123").pk.get()
    index = Person.get_field("code").get_index()
    connection = database.connection
    assert consistency_check(Person) == []
    assert list(connection.scan_iter(match=index.storage_base + "*")) == [
        index.storage_base + "123"
    ]
    assert pks(Person.collection(code="123")) == {digits}
    assert list(Person.collection(code="abc")) == []
    assert pks(Person.collection(code__in=["abc", "123"])) == {digits}
    Person(digits).code.hset("x1")
    Person(letters).code.hset("42")
    assert consistency_check(Person) == []
    assert list(connection.scan_iter(match=index.storage_base + "*")) == [index.storage_base + "42"]
    assert pks(Person.collection(code="42")) == {letters}


def test_transform_on_multi_value_field(Person):
    pk = Person(tags=["A", "a", "B"]).pk.get()
    assert pks(Person.collection(tags="a")) == {pk}
    person = Person(pk)
    person.tags.srem("A")  # "a" still gives the same indexed value
    assert consistency_check(Person) == []
    assert pks(Person.collection(tags="a")) == {pk}
    person.tags.srem("a")
    assert consistency_check(Person) == []
    assert pks(Person.collection(tags="a")) == set()
    assert pks(Person.collection(tags="b")) == {pk}


def test_transform_that_fails_writes_nothing(database):
    db = database

    def refuse(value):
        if value == "bad":
            raise ValueError("bad value")
        return value

    class Guarded(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField(indexable=True, indexes=[EqualIndex.configure(transform=refuse)])

    with pytest.raises(ValueError, match="bad value"):
        Guarded(name="bad")
    assert list(database.scan_keys()) == []
    good = Guarded(name="good")
    with pytest.raises(ValueError, match="bad value"):
        good.name.set("bad")
    assert good.name.get() == "good"
    assert consistency_check(Guarded) == []


def test_unique_needs_an_index_handling_it(database):
    """Reported by system check limpyd.E005; refused, before any write, when used."""
    db = database

    class NoUnique(RedisModel):
        database = db
        namespace = NAMESPACE
        name = StringField(unique=True, indexes=[EqualIndex.configure(handle_uniqueness=False)])

    with pytest.raises(ImplementationError) as raised:
        NoUnique(name="x")
    assert "NoUnique.name" in str(raised.value) and "uniqueness" in str(raised.value)
    assert list(database.scan_keys()) == []


def test_uniqueness_handled_by_another_index(database):
    db = database

    class Item(RedisModel):
        database = db
        namespace = NAMESPACE
        ref = StringField(
            unique=True, indexes=[NumberRangeIndex.configure(handle_uniqueness=False), EqualIndex]
        )
        num = StringField(unique=True, indexes=[NumberRangeIndex])

    ref_number, ref_equal = Item.get_field("ref").indexes
    assert not ref_number.handles_uniqueness and ref_equal.handles_uniqueness
    first = Item(ref="10", num="10").pk.get()
    second = Item(ref="1e1", num="11").pk.get()  # the same number: only the EqualIndex checks
    assert pks(Item.collection(ref__eq=10)) == {first, second}
    with pytest.raises(UniquenessError):
        Item(ref="10", num="12")
    with pytest.raises(UniquenessError):
        Item(ref="20", num="1e1")  # the NumberRangeIndex handles `num`: 10 is taken
    with pytest.raises(UniquenessError):
        Item(second).ref.set("10")
    assert Item(second).ref.get() == "1e1"
    assert pks(Item.collection()) == {first, second}
    assert consistency_check(Item) == []


def test_several_indexes_per_field(database):
    db = database

    class Word(RedisModel):
        database = db
        namespace = NAMESPACE
        text = StringField(indexable=True, indexes=[EqualIndex, TextRangeIndex])

    words = {text: Word(text=text).pk.get() for text in ["apple", "apricot", "banana", "app"]}
    equal, text_range = Word.get_field("text").indexes
    connection = database.connection
    for text, pk in words.items():
        assert connection.smembers(equal.get_storage_key(text)) == {pk}
        assert connection.zscore(text_range.get_storage_key(text), f"{text}\0{pk}") == 0
    assert pks(Word.collection(text="app")) == {words["app"]}
    assert pks(Word.collection(text__in=["app", "banana"])) == {words["app"], words["banana"]}
    starting = {words["apple"], words["apricot"], words["app"]}
    assert pks(Word.collection(text__startswith="ap")) == starting
    assert pks(Word.collection(text__gt="apple", text__lte="banana")) == {
        words["apricot"],
        words["banana"],
    }
    Word(words["app"]).text.set("cherry")
    assert consistency_check(Word) == []
    assert pks(Word.collection(text="app")) == set()
    assert pks(Word.collection(text__gt="banana")) == {words["app"]}


def test_get_index(Event, Person, database):
    date = Event.get_field("date")
    with pytest.raises(ValueError, match="Event.date has 3 indexes matching"):
        date.get_index()  # as in limpyd: several match and nothing narrows it
    assert type(date.get_index(prefix=None)) is TextRangeIndex  # None matches "no prefix"
    assert type(date.get_index(prefix="year")) is YearIndex
    assert type(date.get_index(index_class=YearIndex)) is YearIndex
    assert type(date.get_index(index_class=NumberRangeIndex, prefix="month")) is MonthIndex
    with pytest.raises(ValueError, match="2 indexes matching"):
        date.get_index(index_class=NumberRangeIndex)  # YearIndex and MonthIndex
    when = Event.get_field("when")
    assert type(when.get_index(key="date")) is DateRangeIndex
    assert type(when.get_index(index_class=TextRangeIndex, key="time")) is TimeRangeIndex
    instance = Event(date="2015-06-01", when="2015-06-01 10:00:00")
    assert instance.date.get_index(prefix="year") is date.indexes[1]
    for criteria in ({"index_class": EqualIndex}, {"key": "nope"}, {"prefix": "day"}):
        with pytest.raises(ValueError, match="Event.date has no index matching"):
            date.get_index(**criteria)
    pk = instance.pk.get()
    year = date.get_index(prefix="year")
    assert year.get_storage_key() == year.get_storage_key("anything")
    assert database.connection.zscore(year.get_storage_key(), pk) == 2015
    name_index = Person.get_field("name").get_index(index_class=EqualIndex, prefix=None)
    person = Person(name="Ann")
    key = name_index.get_storage_key("Ann")
    assert database.connection.exists(key) and database.connection.smembers(key) == {
        person.pk.get()
    }
    assert not database.connection.exists(name_index.get_storage_key("Bob"))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"date__month": 6}, ["2015-06-01"]),
        ({"date__month__gte": 11}, ["2014-12-31", "2015-11-30"]),
        ({"when__time__lt": "12:00"}, ["2015-06-01 08:00:00"]),
        ({"when__time__gt": "12:"}, ["2015-06-01 12:30:00"]),
    ],
)
def test_filter_values_are_not_transformed(Event, filters, expected):
    """The seeds' date/time indexes: `date__month=6`, `datetime__time__gt='15:'`."""
    for value in [*DATES, "2015-06-01 12:30:00", "2015-06-01 08:00:00"]:
        Event(**{"when" if " " in value else "date": value})
    found = {Event(pk).date.get() or Event(pk).when.hget() for pk in Event.collection(**filters)}
    assert found == set(expected)
