"""Issue 19, limpyd parity: code written for limpyd 2.1.2 runs unchanged after the
import rename. One test (or a few) per item of the bullets "Collections" and "Errors
of the same kind"."""

import pytest

from django_limpyd import fields
from django_limpyd.collection import CollectionManager, CollectionResults
from django_limpyd.contrib import related
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import (
    ImplementationError,
    ImplementationValueError,
    InvalidValue,
    LimpydException,
)
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands


@pytest.fixture
def Person(database):
    class Person(RedisModel):
        namespace = "parity"
        firstname = fields.InstanceHashField(indexable=True)
        lastname = fields.InstanceHashField(indexable=True)
        birth_year = fields.InstanceHashField(indexable=True)
        nickname = fields.StringField()
        tags = fields.SetField()

    Person.use_database(database)
    Person(firstname="John", lastname="Smith", birth_year=1960, nickname="js")
    Person(firstname="John", lastname="Doe", birth_year=1965, nickname="jd")
    Person(firstname="Emily", lastname="Smith", birth_year=1950, nickname="es")
    Person(firstname="Susan", lastname="Doe", birth_year=1970, nickname="sd")
    database.load_scripts()
    return Person


@pytest.fixture
def Extended(database):
    class Extended(RedisModel):
        namespace = "parity"
        collection_manager = ExtendedCollectionManager
        name = fields.InstanceHashField(indexable=True)
        year = fields.StringField()
        friends = fields.SetField()

    Extended.use_database(database)
    Extended(name="a", year="2001")
    Extended(name="b", year="2003")
    Extended(name="c", year="2002")
    database.load_scripts()
    return Extended


@pytest.fixture
def Group(Member):
    return type(Member(1).group.instance())


@pytest.fixture
def Member(database):
    class Group(related.RelatedModel):
        namespace = "parity"
        database = None
        name = fields.InstanceHashField(indexable=True)

    class Member(related.RelatedModel):
        namespace = "parity"
        name = fields.InstanceHashField()
        group = related.FKInstanceHashField(Group)

    Group.use_database(database)
    Member.use_database(database)
    core, docs = Group(name="core"), Group(name="docs")
    Member(name="ann", group=core)
    Member(name="bob", group=docs)
    Member(name="cid", group=core)
    database.load_scripts()
    return Member


# -- Collections: sort(by='-field') ---------------------------------------------------


def test_parity_sort_by_minus_field_is_descending(Person):
    assert list(Person.collection().sort(by="-birth_year")) == ["4", "2", "1", "3"]
    # Smith (1, 3) then Doe (2, 4): SORT ALPHA leaves equal values in no defined order
    by_lastname = list(Person.collection().sort(by="-lastname", alpha=True))
    assert set(by_lastname[:2]) == {"1", "3"} and set(by_lastname[2:]) == {"2", "4"}
    assert list(Person.collection().sort(by="-nickname", alpha=True)[:2]) == ["4", "1"]


def test_parity_sort_by_minus_pk_is_descending(Person):
    assert list(Person.collection().sort(by="-pk")) == ["4", "3", "2", "1"]
    assert list(Person.collection(firstname="John").sort(by="-pk")) == ["2", "1"]
    assert Person.collection().sort(by="-pk").instances()[0].pk.get() == "4"


def test_parity_sort_by_minus_field_with_desc_is_descending(Person):
    # as limpyd: the "-" means descending whatever desc says (no double negation)
    expected = ["4", "2", "1", "3"]
    assert list(Person.collection().sort(by="-birth_year", desc=True)) == expected
    assert list(Person.collection().sort(by="-birth_year", desc=False)) == expected
    assert list(Person.collection().sort(by="birth_year", desc=True)) == expected


def test_parity_sort_by_minus_unknown_field_names_it(Person):
    with pytest.raises(ImplementationError, match="no field 'nope'"):
        Person.collection().sort(by="-nope")


def test_parity_sort_by_minus_field_in_extended_collection(Extended):
    collection = Extended.collection()
    assert list(collection.sort(by="-year").values_list("name", flat=True)) == ["b", "c", "a"]
    with pytest.raises(ValueError, match="`by` or `by_score`"):
        collection.sort(by="-year", by_score="some-key")


def test_parity_sort_by_score_after_sort_by_minus_field(Extended, database):
    scores = Extended._meta.keys.stored() + ":scores"  # a key of the model's prefix
    database.connection.zadd(scores, {"1": 3, "2": 1, "3": 2})
    by_year = Extended.collection().sort(by="-year")
    assert list(by_year.sort(by_score=scores)) == ["2", "3", "1"]
    assert list(by_year.sort(by_score=scores, desc=True)) == ["1", "3", "2"]
    # as limpyd, a "-" before the key sorts in descending order too
    assert list(Extended.collection().sort(by_score="-" + scores)) == ["1", "3", "2"]
    assert list(by_year.sort(by_score=scores).sort(by="-pk")) == ["3", "2", "1"]


# -- Collections: len() of a sorted collection does not sort ------------------------


def test_parity_len_of_sorted_collection_does_not_sort(Person, database):
    text_sorted = Person.collection().sort(by="nickname")  # text without alpha=True
    with assert_num_commands(1, database, round_trips=1):
        assert len(text_sorted) == 4
    assert len(Person.collection(lastname="Doe").sort(by="-firstname")) == 2
    assert len(text_sorted.instances()) == 4
    assert text_sorted.instances().count() == 4
    with pytest.raises(ImplementationError, match="alpha=True"):
        list(text_sorted)  # the sort itself still fails, as in Redis


def test_parity_len_of_sorted_collection_skips_vanished_instances(Person):
    collection = Person.collection(lastname="Doe").sort(by="nickname").instances()
    Person(4).delete()
    assert len(collection) == 1
    assert len(collection.sort(by="-nickname", alpha=True)) == 1


def test_parity_len_of_sorted_by_score_collection_counts_scored_pks(Extended, database):
    scores = Extended._meta.keys.stored() + ":scores"
    database.connection.zadd(scores, {"1": 3, "3": 2})
    by_score = Extended.collection().sort(by_score=scores)
    assert len(by_score) == len(list(by_score)) == 2


# -- Collections: repr() ------------------------------------------------------------


def test_parity_repr_of_collection_names_its_class(Person, Extended):
    assert repr(Person.collection(firstname="John")) == "<CollectionManager ['1', '2']>"
    assert repr(Person.collection(firstname="Nobody")) == "<CollectionManager []>"
    assert repr(Extended.collection(name="a")) == "<ExtendedCollectionManager ['1']>"
    assert repr(Extended.collection().sort(by="-year").values_list("name", flat=True)) == (
        "<ExtendedCollectionManager ['b', 'c', 'a']>"
    )


def test_parity_repr_of_collection_is_cut_after_20_results(Person):
    for year in range(21):
        Person(firstname="Many", birth_year=year)
    many = Person.collection(firstname="Many").sort(by="birth_year")  # pks 5 to 25
    shown = [str(pk) for pk in range(5, 25)] + ["... (1 remaining elements truncated)..."]
    assert repr(many) == f"<CollectionManager {shown!r}>"
    assert repr(iter(many)) == f"<CollectionResults {shown!r}>"


def test_parity_repr_of_results_is_collection_results(Person):
    results = iter(Person.collection(firstname="John"))
    assert isinstance(results, CollectionResults)
    assert repr(results) == "<CollectionResults ['1', '2']>"


def test_parity_results_iterate_like_limpyd(Person):
    results = iter(Person.collection(firstname="John").sort(by="-pk"))
    assert len(results) == 2 and results
    assert results == ["2", "1"] and results == {"1", "2"}
    assert results[0] == "2" and results[-1:] == ["1"]
    assert next(results) == "2"
    assert next(results) == "1"
    with pytest.raises(StopIteration):
        next(results)
    assert list(results) == ["2", "1"]  # iterated again from the start, as limpyd's


# -- Collections: clone() -------------------------------------------------------------


def test_parity_clone_is_an_unevaluated_copy(Person, database):
    collection = Person.collection(firstname="John").sort(by="-pk")
    assert list(collection) == ["2", "1"]
    clone = collection.clone()
    assert clone is not collection and type(clone) is CollectionManager
    Person(firstname="John", lastname="New")
    assert list(collection) == ["2", "1"]  # kept its results
    with assert_num_commands(1, database):
        assert list(clone) == ["5", "2", "1"]  # asks Redis again
    assert collection.clone().instances()[0].pk.get() == "5"


def test_parity_clone_of_extended_collection(Extended):
    values = Extended.collection().sort(by="year").values_list("name", flat=True)
    clone = values.clone()
    assert type(clone) is ExtendedCollectionManager
    assert list(clone) == ["a", "c", "b"]


# -- Collections: an instance or a field as a filter value ----------------------------


def test_parity_filter_value_instance_for_pk(Person):
    john, emily = Person(1), Person(3)
    assert list(Person.collection(pk=john)) == ["1"]
    assert sorted(Person.collection(pk__in=[john, emily, "4"])) == ["1", "3", "4"]
    assert list(Person.collection(firstname="John", pk=emily)) == []
    assert Person.get(john) == john
    assert Person.get(pk=emily) == emily
    assert Person.exists(pk=john)
    assert Person.collection().get(john) == john


def test_parity_filter_value_pkfield_for_pk(Person):
    john = Person(1)
    assert list(Person.collection(pk=john.pk)) == ["1"]
    assert list(Person.collection(pk__in=[john.pk, Person(2).pk])) == ["1", "2"]
    assert Person.get(john.pk) == john
    assert Person.exists(pk=john.pk)


def test_parity_filter_value_instance_for_related_field(Member, Group):
    core, docs = Group(1), Group(2)
    assert sorted(Member.collection(group=core)) == ["1", "3"]
    assert sorted(Member.collection(group=core.pk)) == ["1", "3"]
    assert sorted(Member.collection(group__in=[core, docs])) == ["1", "2", "3"]
    assert Member.get(group=docs) == Member(2)
    assert Member.exists(group=docs)


def test_parity_filter_value_related_field_for_pk(Member, Group):
    ann = Member(1)
    # a related field of an instance holds a pk: read when the collection runs
    collection = Group.collection(pk=ann.group)
    assert list(collection) == ["1"]
    ann.group.hset("2")
    assert list(collection.clone()) == ["2"]
    assert list(Group.collection(pk__in=[ann.group])) == ["2"]
    assert Group.get(ann.group) == Group(2)
    assert Group.get(pk=ann.group) == Group(2)


def test_parity_filter_value_bad_pk_is_invalid(Person):
    with pytest.raises(InvalidValue):
        Person.collection(pk=None)
    with pytest.raises(InvalidValue):
        Person.collection(pk__in="1")


# -- Errors of the same kind: ValueError where limpyd raises it ----------------------


def test_parity_value_error_is_an_implementation_error():
    assert issubclass(ImplementationValueError, ImplementationError)
    assert issubclass(ImplementationValueError, ValueError)
    assert issubclass(ImplementationValueError, LimpydException)


def test_parity_value_error_get_without_arguments(Person):
    with pytest.raises(ValueError, match="give a pk or filters"):
        Person.get()
    with pytest.raises(ImplementationError, match="give a pk or filters"):
        Person.get()


def test_parity_value_error_get_with_pk_and_filters(Person):
    with pytest.raises(ValueError, match="not both"):
        Person.get(1, firstname="John")
    with pytest.raises(ValueError, match="not both"):
        Person.get(1, 2)


def test_parity_value_error_exists_without_arguments(Person):
    with pytest.raises(ValueError, match="give a pk or filters"):
        Person.exists()


def test_parity_value_error_exists_with_pk_and_filters(Person):
    with pytest.raises(ValueError, match="not both"):
        Person.exists(1, firstname="John")


def test_parity_value_error_values_list_flat_with_several_fields(Extended):
    with pytest.raises(ValueError, match="flat=True"):
        Extended.collection().values_list("name", "year", flat=True)
    with pytest.raises(ValueError, match="flat=True"):
        Extended.collection().values_list(flat=True)  # every simple field: several


def test_parity_value_error_values_of_non_simple_field(Extended):
    with pytest.raises(ValueError, match="holds several values"):
        Extended.collection().values("friends")
    with pytest.raises(ValueError, match="holds several values"):
        Extended.collection().values_list("name", "friends")
    with pytest.raises(ValueError, match="has no field 'nope'"):
        Extended.collection().values("nope")


def test_parity_value_error_intersect_unsupported_type(Extended):
    with pytest.raises(ValueError, match="intersect"):
        Extended.collection().intersect(42)
    with pytest.raises(ValueError, match="intersect"):
        Extended.collection().intersect({"1": "a"})
    with pytest.raises(ValueError, match="intersect"):
        Extended.collection().intersect(Extended(1).name)  # not a multi-value field
    with pytest.raises(ValueError, match="intersect"):
        Extended.collection().intersect(Extended.friends)  # not of an instance


def test_parity_value_error_sort_by_score_bad_argument(Extended):
    with pytest.raises(ValueError, match="by_score"):
        Extended.collection().sort(by_score=42)
    with pytest.raises(ValueError, match="by_score"):
        Extended.collection().sort(by_score=Extended(1).friends)


def test_parity_value_error_setting_autopk(Person, database):
    keys = sorted(database.scan_keys())
    with pytest.raises(ValueError, match="AutoPKField"):
        Person(pk=9, firstname="X")
    with pytest.raises(ValueError, match="AutoPKField"):
        Person(pk="9")
    assert sorted(database.scan_keys()) == keys


def test_parity_value_error_two_pk_names(database):
    class Named(RedisModel):
        namespace = "parity"
        name = fields.PKField()

    Named.use_database(database)
    with pytest.raises(ValueError, match=r"two values for the pk \(pk and name\)"):
        Named(pk="a", name="b")
    with pytest.raises(ValueError, match=r"two values for the pk"):
        Named(name="a", pk="a")
    assert not Named.exists(pk="a")


@pytest.mark.standalone  # a key outside the model's slot: tests/cluster
def test_parity_value_error_intersect_key_of_wrong_type(Extended, database):
    # the collection function checks the type of each intersected key: a string or a
    # hash is a ValueError (as in limpyd), raised when the collection runs
    connection = database.connection
    connection.hset("parity-test:a-hash", "x", "1")
    connection.set("parity-test:a-string", "1")
    for key, kind in (("parity-test:a-hash", "hash"), ("parity-test:a-string", "string")):
        collection = Extended.collection(name="a").intersect(key)
        with pytest.raises(ValueError, match=f"'{key}' of Extended: a {kind}"):
            list(collection)
    connection.sadd("parity-test:a-set", "1", "2")
    assert list(Extended.collection().intersect("parity-test:a-set")) == ["1", "2"]


def test_parity_collection_equals_list_or_set(Person):
    assert Person.collection(firstname="John") == ["1", "2"]
    assert Person.collection(firstname="John") == {"2", "1"}
    assert Person.collection(firstname="John") != {"1"}
