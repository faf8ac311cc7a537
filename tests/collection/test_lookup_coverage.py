"""``exact`` and ``in`` everywhere ``eq`` exists: every index class, core and contrib,
answers both (``EqualIndexWith`` through its combined filters)."""

from django.db.models import Q

from django_limpyd import fields
from django_limpyd.contrib import indexes as contrib_indexes
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.indexes import (
    DateTimeIndex,
    EqualIndexWith,
    MultiIndexes,
    ScoredEqualIndex,
)
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.indexes.base import BaseIndex
from django_limpyd.model import RedisModel


def test_every_index_class_with_eq_has_in():
    classes = [EqualIndex, NumberRangeIndex, TextRangeIndex] + [
        getattr(contrib_indexes, name) for name in contrib_indexes.__all__
    ]
    for index_class in classes:
        if issubclass(index_class, MultiIndexes) or not issubclass(index_class, BaseIndex):
            continue
        if index_class is EqualIndexWith:
            continue  # its filters are combined: see test_contrib_in_and_exact
        assert {"eq", "in"} <= set(index_class.lookups), index_class


def test_contrib_in_and_exact(database):
    class Event(RedisModel):
        namespace = "coverage"
        collection_manager = ExtendedCollectionManager
        at = fields.InstanceHashField(indexable=True, indexes=[DateTimeIndex])
        queue = fields.InstanceHashField(
            indexable=True, indexes=[ScoredEqualIndex.configure(score_field="rank")]
        )
        rank = fields.InstanceHashField()
        room = fields.InstanceHashField(
            indexable=True, indexes=[EqualIndexWith.configure(other_fields=["rank"])]
        )

    Event.use_database(database)
    Event(at="2015-12-21 15:30:00", queue="a", rank=1, room="r1")
    Event(at="2016-01-02 09:00:00", queue="b", rank=2, room="r2")
    Event(at="2017-05-05 15:00:00", queue="a", rank=3, room="r1")
    collection = Event.collection
    assert list(collection(at__year__in=[2015, 2017])) == ["1", "3"]
    assert list(collection(at__hour__exact=15)) == ["1", "3"]
    assert list(collection(at__date__in=["2016-01-02", "1999-01-01"])) == ["2"]
    assert list(collection(at__time__in=["09:00:00"])) == ["2"]
    assert list(collection(queue__in=["b"])) == ["2"]
    assert list(collection(queue__exact="a")) == ["1", "3"]
    assert list(collection(room__in=["r1", "r2"], rank__in=[1, 2])) == ["1", "2"]
    assert list(collection(room__exact="r1", rank__exact=3)) == ["3"]
    assert list(collection().exclude(Q(at__year__in=[2015]) | Q(queue__in=["b"]))) == ["3"]
