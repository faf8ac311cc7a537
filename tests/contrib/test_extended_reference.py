"""The examples of docs/orm/extended.rst (the ExtendedCollectionManager reference), run
on a real Redis."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from django_limpyd import fields
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import ImplementationError, ImplementationValueError
from django_limpyd.model import RedisModel


@pytest.fixture
def doc(database):
    class Person(RedisModel):
        database = None
        namespace = "doc"
        collection_manager = ExtendedCollectionManager
        name = fields.InstanceHashField(indexable=True)
        city = fields.InstanceHashField(indexable=True)
        friends = fields.SetField()
        scores = fields.SortedSetField()

    Person.use_database(database)
    ann = Person(name="Ann", city="Paris", friends=["2", "3"])
    Person(name="Bob", city="Paris")
    Person(name="Cy", city="Lyon")
    ann.scores.zadd({"2": 10, "3": 5})
    return SimpleNamespace(Person=Person, ann=ann, database=database)


def test_values_and_values_list(doc):
    Person = doc.Person
    assert list(Person.collection(city="Paris").values("name", "city")) == [
        {"name": "Ann", "city": "Paris"},
        {"name": "Bob", "city": "Paris"},
    ]
    assert Person.collection().values("name").count_and_slice(0, 1) == (3, [{"name": "Ann"}])
    assert list(Person.collection(city="Paris").values_list("name", "city")) == [
        ("Ann", "Paris"),
        ("Bob", "Paris"),
    ]
    by_name = Person.collection().sort(by="name", alpha=True)
    assert list(by_name.values_list("name", flat=True)) == ["Ann", "Bob", "Cy"]
    scored = Person.collection().sort(by_score=doc.ann.scores)
    assert list(scored.values_list("name", "sorted_score")) == [("Cy", "5.0"), ("Bob", "10.0")]
    first, *_rest = Person.collection().values("pk", "friends", multi=True)
    assert first == {
        "pk": "1",
        "friends": {"2", "3"},
    }
    with pytest.raises(ImplementationError):
        Person.collection().values("friends")
    with pytest.raises(ImplementationValueError):
        Person.collection().values_list("name", "city", flat=True)


def test_filter_intersect_and_store(doc):
    Person = doc.Person
    assert list(Person.collection().filter(city="Paris").filter(name="Bob")) == ["2"]
    assert list(Person.collection(city="Paris").intersect(doc.ann.friends)) == ["2"]
    paris = Person.collection(city="Paris")
    assert list(paris.intersect(["1", "3"], Person.collection(name="Ann"))) == ["1"]
    with pytest.raises(ImplementationValueError, match="intersect"):
        paris.intersect(3.5)
    stored = paris.sort(by="name", alpha=True).store(ttl=60)
    assert stored.stored_key.startswith("{doc:Person}:st:")
    assert list(stored) == ["1", "2"]
    assert doc.database.connection.ttl(stored.stored_key) == 60
    again = Person.collection().from_stored(stored.stored_key)
    assert list(again.values_list("name", flat=True)) == ["Ann", "Bob"]
    with pytest.raises(ImplementationError):
        stored.reverse()
