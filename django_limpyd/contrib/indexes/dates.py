"""Date and time indexes, built with ``configure`` and ``MultiIndexes.compose`` only.

Values are stored as text: dates ``YYYY-MM-DD``, times ``HH:MM:SS``, date+times
``YYYY-MM-DD HH:MM:SS``. Filter values are compared as they are given (as for
every index, they are not transformed): ``date__year=2015``,
``datetime__time__gt='15:'``, ``datetime__date='2015-12-21'``.

=========================  ======================================================
index                      filters (each suffix: ``eq``/bare, ``in``, ``gt``,
                           ``gte``, ``lt``, ``lte``; text ones also ``startswith``)
=========================  ======================================================
``DateIndex``              ``field``, ``field__year``, ``__month``, ``__day``
``TimeIndex``              ``field``, ``field__hour``, ``__minute``, ``__second``
``SimpleDateTimeIndex``    ``field``, ``field__date``, ``field__time``
``DateSimpleTimeIndex``    the above + ``__year``, ``__month``, ``__day``
``DateTimeIndex``          the above + ``__hour``, ``__minute``, ``__second``
=========================  ======================================================
"""

from __future__ import annotations

from django_limpyd.contrib.indexes.multi import MultiIndexes
from django_limpyd.indexes import NumberRangeIndex, TextRangeIndex

__all__ = [
    "DateIndex",
    "DateIndexParts",
    "DateRangeIndex",
    "DateSimpleTimeIndex",
    "DateTimeIndex",
    "DayIndex",
    "FullDateTimeRangeIndex",
    "HourIndex",
    "MinuteIndex",
    "MonthIndex",
    "SecondIndex",
    "SimpleDateTimeIndex",
    "TimeIndex",
    "TimeIndexParts",
    "TimeRangeIndex",
    "YearIndex",
]


# Named functions rather than lambdas: readable in reprs, and picklable by name.
def year_part(value: str) -> str:
    """``YYYY`` of ``YYYY-MM-DD...``."""
    return value[:4]


def month_part(value: str) -> str:
    """``MM`` of ``YYYY-MM-DD...``."""
    return value[5:7]


def day_part(value: str) -> str:
    """``DD`` of ``YYYY-MM-DD...``."""
    return value[8:10]


def hour_part(value: str) -> str:
    """``HH`` of ``HH:MM:SS``."""
    return value[0:2]


def minute_part(value: str) -> str:
    """``MM`` of ``HH:MM:SS``."""
    return value[3:5]


def second_part(value: str) -> str:
    """``SS`` of ``HH:MM:SS``."""
    return value[6:8]


def date_only(value: str) -> str:
    """``YYYY-MM-DD`` of ``YYYY-MM-DD...``."""
    return value[:10]


def time_only(value: str) -> str:
    """``HH:MM:SS`` of ``HH:MM:SS...``."""
    return value[:8]


def time_of_datetime(value: str) -> str:
    """What follows ``YYYY-MM-DD `` in a date+time."""
    return value[11:]


def datetime_only(value: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of a longer value."""
    return value[:19]


# -- date and time parts -----------------------------------------------------------

YearIndex = NumberRangeIndex.configure(
    prefix="year", transform=year_part, handle_uniqueness=False, name="YearIndex"
)
MonthIndex = NumberRangeIndex.configure(
    prefix="month", transform=month_part, handle_uniqueness=False, name="MonthIndex"
)
DayIndex = NumberRangeIndex.configure(
    prefix="day", transform=day_part, handle_uniqueness=False, name="DayIndex"
)
DateIndexParts = MultiIndexes.compose([YearIndex, MonthIndex, DayIndex], name="DateIndexParts")

HourIndex = NumberRangeIndex.configure(
    prefix="hour", transform=hour_part, handle_uniqueness=False, name="HourIndex"
)
MinuteIndex = NumberRangeIndex.configure(
    prefix="minute", transform=minute_part, handle_uniqueness=False, name="MinuteIndex"
)
SecondIndex = NumberRangeIndex.configure(
    prefix="second", transform=second_part, handle_uniqueness=False, name="SecondIndex"
)
TimeIndexParts = MultiIndexes.compose([HourIndex, MinuteIndex, SecondIndex], name="TimeIndexParts")

# -- range indexes -----------------------------------------------------------------

DateRangeIndex = TextRangeIndex.configure(key="date", transform=date_only, name="DateRangeIndex")
TimeRangeIndex = TextRangeIndex.configure(key="time", transform=time_only, name="TimeRangeIndex")

# -- full indexes ------------------------------------------------------------------

DateIndex = MultiIndexes.compose([DateRangeIndex, DateIndexParts], name="DateIndex")
TimeIndex = MultiIndexes.compose([TimeRangeIndex, TimeIndexParts], name="TimeIndex")

# -- date+time ---------------------------------------------------------------------

FullDateTimeRangeIndex = TextRangeIndex.configure(key="full", name="FullDateTimeRangeIndex")

# The date and time range parts do not handle uniqueness: a unique date+time field
# is unique on its whole value, not on its date nor on its time.
DateSimpleTimeIndex = MultiIndexes.compose(
    [
        FullDateTimeRangeIndex,
        DateRangeIndex.configure(prefix="date", handle_uniqueness=False),
        DateIndexParts,
        TimeRangeIndex.configure(
            prefix="time", transform=time_of_datetime, handle_uniqueness=False
        ),
    ],
    name="DateSimpleTimeIndex",
    transform=datetime_only,
)

DateTimeIndex = MultiIndexes.compose(
    [DateSimpleTimeIndex, TimeIndexParts.configure(transform=time_of_datetime)],
    name="DateTimeIndex",
)

SimpleDateTimeIndex = MultiIndexes.compose(
    [
        FullDateTimeRangeIndex,
        DateRangeIndex.configure(prefix="date", handle_uniqueness=False),
        TimeRangeIndex.configure(
            prefix="time", transform=time_of_datetime, handle_uniqueness=False
        ),
    ],
    name="SimpleDateTimeIndex",
    transform=datetime_only,
)
