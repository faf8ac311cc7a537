"""Contrib indexes: ``django_limpyd.contrib.indexes`` (limpyd's ``limpyd.contrib.indexes``).

* :class:`MultiIndexes`: compose several index classes into one.
* date and time indexes built with it: :data:`DateIndex`, :data:`TimeIndex`,
  :data:`SimpleDateTimeIndex`, :data:`DateSimpleTimeIndex`, :data:`DateTimeIndex`,
  and their parts (:data:`DateIndexParts`, :data:`TimeIndexParts`,
  :data:`DateRangeIndex`, :data:`TimeRangeIndex`, :data:`YearIndex`, ...).
* :class:`ScoredEqualIndex`: an equal index in sorted sets scored by another field.
* :class:`EqualIndexWith`: an equal index over several fields (unique together).
"""

from django_limpyd.contrib.indexes.dates import (
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
    SecondIndex,
    SimpleDateTimeIndex,
    TimeIndex,
    TimeIndexParts,
    TimeRangeIndex,
    YearIndex,
)
from django_limpyd.contrib.indexes.multi import MultiIndexes
from django_limpyd.contrib.indexes.scored import ScoredEqualIndex
from django_limpyd.contrib.indexes.together import EqualIndexWith

__all__ = [
    "DateIndex",
    "DateIndexParts",
    "DateRangeIndex",
    "DateSimpleTimeIndex",
    "DateTimeIndex",
    "DayIndex",
    "EqualIndexWith",
    "FullDateTimeRangeIndex",
    "HourIndex",
    "MinuteIndex",
    "MonthIndex",
    "MultiIndexes",
    "ScoredEqualIndex",
    "SecondIndex",
    "SimpleDateTimeIndex",
    "TimeIndex",
    "TimeIndexParts",
    "TimeRangeIndex",
    "YearIndex",
]
