"""Pages sorted by a range-indexed field read that index in order ("index walk").

Without filters a page is read by rank from the index's sorted set (O(log n +
page)); with filters the index is read in chunks and each pk tested against the
filters until the page is full, when that costs less than reading the smallest
filter. The pages are those of the other strategies (checked against an order
computed in Python, and against ``count_and_slice``, which counts the filters and so
sorts candidates instead). Instances without a value, which SORT puts first, turn
the walk off.
"""

from __future__ import annotations

import random

import pytest

from django_limpyd import fields
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

SIZE = 600


def collates_by_bytes(database) -> bool:
    """True if the server compares texts by bytes (LC_COLLATE C): SORT ALPHA then gives
    a TextRangeIndex's order, which the walk of a text index needs."""
    return bool(database.connection.eval("return (('B' < 'a') and ('Z' < '_')) and 1 or 0", 0))


def walks(database, by) -> bool:
    return by == "age" or collates_by_bytes(database)


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "walk"
        name = fields.InstanceHashField(indexable=True, indexes=[TextRangeIndex])
        age = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        city = fields.InstanceHashField(indexable=True, indexes=[EqualIndex])
        nick = fields.InstanceHashField(
            indexable=True, indexes=[TextRangeIndex.configure(transform=str.lower)]
        )

    Person.use_database(database)
    rng = random.Random(3)
    Person.bulk_create(
        {
            "name": rng.choice(["ann", "bob", "Cid", "dan", "éve", "al"]) + rng.choice("xyz"),
            "age": rng.choice([18, 20, 33, 33.5, 41, 70]),
            "city": rng.choice(["Paris"] * 8 + ["Lyon"] * 2 + ["Nice"]),
            "nick": rng.choice(["A", "b"]),
        }
        for _ in range(SIZE)
    )
    return Person


def expected(Person, pks, by, desc):
    values = {pk: getattr(Person(pk), by).hget() for pk in pks}
    if by == "age":
        key = lambda pk: (float(values[pk]), pk.encode())  # noqa: E731
    else:
        key = lambda pk: (values[pk].encode(), pk.encode())  # noqa: E731
    return sorted(pks, key=key, reverse=desc)


@pytest.mark.parametrize("by,alpha", [("age", False), ("name", True)])
@pytest.mark.parametrize("desc", [False, True])
def test_pages_without_filters_read_by_rank(Person, database, by, alpha, desc):
    if not walks(database, by):
        pytest.skip("the server collates texts by locale: no walk of a text index")
    everyone = expected(Person, list(Person.collection()), by, desc)
    sorted_ = Person.collection().sort(by=by, alpha=alpha, desc=desc)
    for start in (0, 50, SIZE - 20):
        page = sorted_[start : start + 20]
        assert page.explain()["strategy"] == "index walk"
        assert page.explain()["cost"] == 21
        with assert_num_commands(1, database):
            assert list(page) == everyone[start : start + 20]
    assert sorted_.count_and_slice(10, 15) == (SIZE, everyone[10:15])


@pytest.mark.parametrize("by,alpha", [("age", False), ("name", True)])
@pytest.mark.parametrize("desc", [False, True])
def test_filtered_pages_walk_the_index_and_match_the_candidates(Person, database, by, alpha, desc):
    if not walks(database, by):
        pytest.skip("the server collates texts by locale: no walk of a text index")
    paris = Person.collection(city="Paris")
    everyone = expected(Person, list(paris), by, desc)
    sorted_ = paris.sort(by=by, alpha=alpha, desc=desc)
    for start in (0, 7, 30):
        page = sorted_[start : start + 10]
        explained = page.explain()
        assert explained["strategy"] == "index walk", explained
        assert list(page) == everyone[start : start + 10]
        # counted and sliced: SORT_RO of the filter's set, which leaves equal texts in
        # no defined order: their values compared
        total, counted_page = sorted_.count_and_slice(start, start + 10)
        assert total == len(everyone)
        if by == "age":
            assert counted_page == everyone[start : start + 10]
        else:
            value = {pk: Person(pk).name.hget() for pk in everyone}
            assert [value[pk] for pk in counted_page] == [
                value[pk] for pk in everyone[start : start + 10]
            ]


def test_a_selective_filter_reads_its_set_instead(Person):
    # Nice: about 1 in 11; a page of 50 would walk about 550 members of the index
    assert Person.collection(city="Nice").sort(by="-age")[0:50].explain()["strategy"] == "sort key"
    page = Person.collection(city="Nice", age__gte=20).sort(by="-age")[0:50]
    assert page.explain()["strategy"] == "candidates"


def test_an_instance_without_a_value_turns_the_walk_off(Person):
    Person(city="Paris")  # no age: SORT puts it first
    page = Person.collection().sort(by="age")[0:3]
    assert page.explain()["strategy"] == "sort key"
    assert Person(next(iter(page))).age.hget() is None


def test_no_walk_for_an_index_with_a_transform_or_the_other_order(Person):
    assert Person.collection().sort(by="nick", alpha=True)[0:5].explain()["strategy"] == "sort key"
    assert Person.collection().sort(by="age", alpha=True)[0:5].explain()["strategy"] == "sort key"


def test_no_text_walk_where_the_server_collates_by_locale(Person, database):
    page = Person.collection().sort(by="name", alpha=True)[0:5]
    expected_strategy = "index walk" if collates_by_bytes(database) else "sort key"
    assert page.explain()["strategy"] == expected_strategy
