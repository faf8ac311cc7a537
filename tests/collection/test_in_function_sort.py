"""Candidates sorted inside the collection function come out in the order Redis's own
``SORT`` gives them.

A filtered and sorted collection is sorted in the function (no temporary key for
``SORT`` to read). Random instances (ties, missing values, numbers and text)
are filtered and sorted every way; each result is compared with ``SORT`` of a
set holding the same pks (made by hand with a raw client, outside the engine).
"""

from __future__ import annotations

import random

import pytest

from django_limpyd import fields
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.indexes import EqualIndex, NumberRangeIndex
from django_limpyd.model import RedisModel

# SORT BY (the oracle) is refused on a Redis Cluster
pytestmark = pytest.mark.standalone


@pytest.fixture
def Item(database):
    class Item(RedisModel):
        namespace = "infunction"
        collection_manager = ExtendedCollectionManager
        group = fields.InstanceHashField(indexable=True, indexes=[EqualIndex])
        rank = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        label = fields.InstanceHashField()
        code = fields.StringField()

    Item.use_database(database)
    rng = random.Random(20261203)
    for _ in range(120):
        values = {"group": rng.choice("ab"), "rank": rng.choice([1, 2, 2.5, 3, 10, -4])}
        if rng.random() < 0.8:
            values["label"] = rng.choice(["pear", "Apple", "apple", "fig", "figs", "é"])
        if rng.random() < 0.7:
            values["code"] = str(rng.choice([7, 8, 9, 70, 0.5]))
        Item(**values)
    return Item


def redis_sort(database, Item, pks, by, alpha, desc):
    """SORT of a hand-made set of ``pks`` (what the old engine did with a temporary set)."""
    raw = database.connection
    key = "infunction-test:set"
    raw.delete(key)
    raw.sadd(key, *pks)
    meta = Item._meta
    pattern = None
    if by is not None:
        field = meta.get_field(by)
        pattern = meta.keys.sort_pattern(by, field.storage_type == "hfield")
    try:
        return raw.sort(key, by=pattern, alpha=alpha, desc=desc)
    finally:
        raw.delete(key)


@pytest.mark.parametrize("by", [None, "label", "code", "rank"])
@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("desc", [False, True])
def test_sorted_in_the_function_as_by_sort(Item, database, by, alpha, desc):
    if by == "label" and not alpha:
        pytest.skip("texts sort with alpha=True only")
    collection = Item.collection(group="a", rank__gte=2)
    pks = list(collection)
    assert 20 < len(pks) < 120
    expected = redis_sort(database, Item, pks, by, alpha, desc)
    sorted_in_function = list(collection.sort(by=by, alpha=alpha, desc=desc))
    if by is not None and alpha:
        # equal texts: SORT leaves them in no defined order; the function puts them in
        # pk order. Compare the values, then the pk order within each value.
        rows = collection.values_list("pk", by)
        value_of = dict(rows)
        assert [value_of[pk] for pk in sorted_in_function] == [value_of[pk] for pk in expected]
        for value in set(value_of.values()):
            tied = [pk for pk in sorted_in_function if value_of[pk] == value]
            assert tied == sorted(tied, key=str.encode)
    else:
        assert sorted_in_function == expected
    assert collection.sort(by=by, alpha=alpha, desc=desc).explain()["strategy"] == "candidates"
