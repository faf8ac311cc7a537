"""ExtendedCollectionManager: the seeds' examples, and one round trip per page of values."""

import pytest

from django_limpyd import fields
from django_limpyd.contrib.collection import (
    DEFAULT_STORE_TTL,
    SORTED_SCORE,
    ExtendedCollectionManager,
)
from django_limpyd.exceptions import ImplementationError
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "extended"
        collection_manager = ExtendedCollectionManager
        firstname = fields.InstanceHashField(indexable=True)
        lastname = fields.InstanceHashField(indexable=True)
        birth_year = fields.InstanceHashField(indexable=True)
        city = fields.InstanceHashField(indexable=True)
        friends = fields.SortedSetField()
        friend_set = fields.SetField()
        friend_list = fields.ListField()

    Person.use_database(database)
    Person(firstname="John", lastname="Smith", birth_year="1960", city="New York")
    Person(firstname="John", lastname="Doe", birth_year="1965", city="New York")
    Person(firstname="Emily", lastname="Smith", birth_year="1950", city="Paris")
    database.load_scripts()
    return Person


@pytest.fixture
def current_user(Person):
    return Person(
        firstname="Me",
        city="New York",
        friends={"1": 1985, "2": 1970, "3": 1990},
        friend_set=["2", "3"],
        friend_list=["1", "3"],
    )


def test_seed_values(Person):
    john = Person.collection(firstname="John")
    assert list(john.values()) == [
        {"pk": "1", "firstname": "John", "lastname": "Smith", "birth_year": "1960",
         "city": "New York"},
        {"pk": "2", "firstname": "John", "lastname": "Doe", "birth_year": "1965",
         "city": "New York"},
    ]  # fmt: skip
    assert list(john.values("pk", "lastname")) == [
        {"pk": "1", "lastname": "Smith"},
        {"pk": "2", "lastname": "Doe"},
    ]


def test_seed_values_list(Person):
    john = Person.collection(firstname="John")
    assert next(iter(john.values_list())) == ("1", "John", "Smith", "1960", "New York")
    assert list(john.values_list("pk", "lastname")) == [("1", "Smith"), ("2", "Doe")]
    assert list(john.values_list("lastname", flat=True)) == ["Smith", "Doe"]
    assert list(john.values().primary_keys()) == ["1", "2"]
    assert list(john.values_list("lastname").primary_keys()) == ["1", "2"]


def test_values_errors(Person):
    with pytest.raises(ImplementationError, match="holds several values"):
        Person.collection().values("friends")
    with pytest.raises(ImplementationError, match="has no field 'nope'"):
        Person.collection().values("nope")
    with pytest.raises(ImplementationError, match="exactly one field"):
        Person.collection().values_list("pk", "city", flat=True)
    with pytest.raises(ImplementationError, match="sort\\(by_score"):
        Person.collection().values(SORTED_SCORE)


def test_seed_chaining_filters(Person):
    collection = Person.collection(firstname="John")
    filtered = collection.filter(city="New York")
    assert filtered is not collection
    assert list(filtered) == ["1", "2"]
    assert list(collection.filter(lastname="Doe")) == ["2"]


@pytest.mark.standalone  # keys outside the model's slot (tests/cluster)
def test_seed_intersections(Person, current_user):
    my_friends = [1, 2, 3]
    john_people = list(Person.collection(firstname="John"))
    result = Person.collection(city="New York").intersect(john_people, my_friends)
    assert list(result) == ["1", "2"]
    new_york = Person.collection(city="New York")
    assert list(new_york.intersect(current_user.friend_set)) == ["2"]
    assert list(new_york.intersect(current_user.friend_list)) == ["1"]
    assert list(new_york.intersect(current_user.friends)) == ["1", "2"]
    assert list(new_york.intersect(current_user.friend_set.key)) == ["2"]
    assert list(new_york.intersect(Person.collection(lastname="Doe"))) == ["2"]
    assert list(new_york.intersect("no-such-key")) == []


def test_seed_sort_by_score_and_sorted_score(Person, current_user):
    collection = Person.collection(city=current_user.city.hget())
    collection = collection.intersect(current_user.friends)
    collection = collection.sort(by_score=current_user.friends)
    assert list(collection) == ["2", "1"]
    assert list(collection.values("firstname", SORTED_SCORE)) == [
        {"firstname": "John", "sorted_score": "1970.0"},
        {"firstname": "John", "sorted_score": "1985.0"},
    ]
    desc = (
        Person.collection()
        .intersect(current_user.friends)
        .sort(by_score=current_user.friends.key, desc=True)
    )
    assert list(desc) == ["3", "1", "2"]
    assert list(desc[1:2]) == ["1"]


def test_seed_passing_fields(Person, current_user):
    by_field = Person.collection(firstname="John").sort(by=Person.get_field("lastname"), alpha=True)
    assert list(by_field) == ["2", "1"]
    same_city = Person.collection(city=current_user.city)  # read when the collection runs
    current_user.city.hset("Paris")
    assert list(same_city) == ["3", "4"]


def test_seed_storing(Person, current_user, database):
    collection = Person.collection(city=current_user.city.hget())
    collection = collection.intersect(current_user.friends)
    collection = collection.sort(by_score=current_user.friends)
    stored = collection.store(ttl=3600)
    assert 3590 <= database.connection.ttl(stored.stored_key) <= 3600
    assert list(stored.values("pk", "firstname")[0:1]) == [{"pk": "2", "firstname": "John"}]
    again = Person.collection().from_stored(stored.stored_key)
    assert list(again.values("pk", "firstname")[1:2]) == [{"pk": "1", "firstname": "John"}]
    assert len(again) == 2
    assert list(again.filter(lastname="Smith")) == ["1"]
    database.connection.persist(stored.stored_key)
    assert database.connection.ttl(stored.stored_key) == -1
    database.connection.delete(stored.stored_key)
    with pytest.raises(Person.DoesNotExist, match="does not exist"):
        list(again)


@pytest.mark.standalone  # keys outside the model's slot (tests/cluster)
def test_store_defaults(Person):
    stored = Person.collection(firstname="John").values("lastname").store()
    assert DEFAULT_STORE_TTL == 60
    assert Person._meta.keys.owns(stored.stored_key)
    assert list(stored) == [{"lastname": "Smith"}, {"lastname": "Doe"}]
    assert list(stored.primary_keys()) == ["1", "2"]
    named = Person.collection().store(key="my-key", ttl=None)
    assert named.stored_key == "my-key"


def test_a_page_of_values_is_one_round_trip(Person, database):
    page = Person.collection(city="New York").sort(by="lastname", alpha=True)[0:2]
    with assert_num_commands(1, database, round_trips=1):
        rows = list(page.values("pk", "lastname", "birth_year"))
    assert rows == [
        {"pk": "2", "lastname": "Doe", "birth_year": "1965"},
        {"pk": "1", "lastname": "Smith", "birth_year": "1960"},
    ]


def test_model_default_collection_manager(Person):
    assert isinstance(Person.collection(), ExtendedCollectionManager)


def test_count_and_slice_by_score_stored_and_intersected(Person, current_user, database):
    by_score = Person.collection().sort(by_score=current_user.friends, desc=True)
    with assert_num_commands(1, database, round_trips=1):  # pks without a score: not counted
        assert by_score.values("pk", SORTED_SCORE).count_and_slice(0, 1) == (
            3,
            [{"pk": "3", "sorted_score": "1990.0"}],
        )
    new_york = Person.collection(city="New York").intersect(["1", "4", "9"]).sort(by="pk")
    assert new_york.count_and_slice(1) == (2, ["4"])
    stored = Person.collection(firstname="John").sort(by="lastname", alpha=True).store()
    with assert_num_commands(1, database, round_trips=1):
        assert stored.count_and_slice(1) == (2, ["1"])
    assert stored.filter(lastname="Doe").count_and_slice() == (1, ["2"])
    database.connection.delete(stored.stored_key)
    with pytest.raises(Person.DoesNotExist):
        stored.count_and_slice(0, 1)


def test_values_with_multi_reads_multi_value_fields_in_the_same_call(database):
    """``values(..., multi=True)``: sets, lists, sorted sets and hashes read whole by
    the collection function, shaped as redis-py gives them; without ``multi`` they
    are refused, as in limpyd."""
    from django_limpyd import fields
    from django_limpyd.contrib.collection import ExtendedCollectionManager
    from django_limpyd.exceptions import ImplementationError
    from django_limpyd.model import RedisModel
    from django_limpyd.test.commands import assert_num_commands

    class Shelf(RedisModel):
        namespace = "multi_values"
        collection_manager = ExtendedCollectionManager
        name = fields.InstanceHashField(indexable=True)
        tags = fields.SetField()
        items = fields.ListField()
        ranks = fields.SortedSetField()
        data = fields.HashField()

    Shelf.use_database(database)
    Shelf(name="a", tags=["x", "y"], items=["b", "a", "b"], ranks={"m": 2, "n": 1}, data={"k": "v"})
    Shelf(name="b")
    with assert_num_commands(1, database):
        rows = list(
            Shelf.collection()
            .sort(by="name", alpha=True)
            .values("name", "tags", "items", "ranks", "data", multi=True)
        )
    assert rows == [
        {"name": "a", "tags": {"x", "y"}, "items": ["b", "a", "b"],
         "ranks": [("n", 1.0), ("m", 2.0)], "data": {"k": "v"}},
        {"name": "b", "tags": set(), "items": [], "ranks": [], "data": {}},
    ]  # fmt: skip
    with pytest.raises(ImplementationError, match="holds several values"):
        Shelf.collection().values("tags")
