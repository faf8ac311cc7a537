"""The serializer field of each model field, and the Redis serializer fields."""

from decimal import Decimal

import pytest
from rest_framework import serializers

from django_limpyd.contrib.drf import (
    RedisHashField,
    RedisListField,
    RedisManyRelatedField,
    RedisNumberField,
    RedisPrimaryKeyRelatedField,
    RedisSetField,
    RedisSortedSetField,
    RedisUniqueValidator,
)
from django_limpyd.contrib.drf.fields import build_field
from tests.contrib.drf.models import Author, Book


def field_of(model, name, creating=True, **extra):
    return build_field(model._meta.get_field(name), creating=creating, **extra)


@pytest.mark.parametrize(
    ("name", "field_class"),
    [
        ("title", serializers.CharField),
        ("year", RedisNumberField),
        ("genre", serializers.CharField),
        ("isbn", serializers.CharField),
        ("summary", serializers.CharField),
        ("tags", RedisSetField),
        ("chapters", RedisListField),
        ("ratings", RedisSortedSetField),
        ("details", RedisHashField),
        ("author", RedisPrimaryKeyRelatedField),
        ("coauthors", RedisManyRelatedField),
    ],
)
def test_each_field_type_gets_its_serializer_field(name, field_class):
    field = field_of(Book, name)
    assert type(field) is field_class
    assert not field.required and field.allow_null and not field.read_only


def test_text_fields_keep_their_text():
    field = field_of(Book, "summary")
    assert field.run_validation("  spaced  ") == "  spaced  "
    assert field.run_validation("") == ""
    assert field.run_validation(None) is None


def test_help_text_names_type_uniqueness_and_indexes():
    assert field_of(Book, "title").help_text == (
        "InstanceHashField · unique · indexes: EqualIndex, TextRangeIndex"
    )


def test_unique_fields_get_the_unique_validator():
    validators = field_of(Book, "title").validators
    assert any(isinstance(v, RedisUniqueValidator) for v in validators)
    assert not any(isinstance(v, RedisUniqueValidator) for v in field_of(Book, "genre").validators)


def test_text_refuses_nul_as_drf_does():
    with pytest.raises(serializers.ValidationError, match="Null characters are not allowed"):
        field_of(Book, "title").run_validation("a\0b")


def test_auto_pk_is_read_only():
    field = field_of(Book, "pk")
    assert field.read_only


def test_given_pk_is_written_at_creation_only():
    creating = field_of(Author, "pk", creating=True)
    assert creating.required and not creating.read_only
    assert any(isinstance(v, RedisUniqueValidator) for v in creating.validators)
    assert field_of(Author, "pk", creating=False).read_only


def test_extra_kwargs_apply_and_read_only_drops_write_options():
    field = field_of(Book, "title", label="Title!", read_only=True)
    assert field.label == "Title!" and field.read_only
    assert not any(isinstance(v, RedisUniqueValidator) for v in field.validators)


class TestNumberField:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [(12, "12"), (-1.5, "-1.5"), (Decimal("2.50"), "2.50"), (" 7 ", "7"), ("2e3", "2e3")],
    )
    def test_takes_numbers_and_numeric_strings(self, given, stored):
        assert RedisNumberField().run_validation(given) == stored

    @pytest.mark.parametrize("given", [True, "abc", "", float("nan"), Decimal("inf"), [1], {}])
    def test_refuses_what_the_index_would_score_0(self, given):
        with pytest.raises(serializers.ValidationError, match="number range index"):
            RedisNumberField().run_validation(given)

    @pytest.mark.parametrize(
        ("stored", "shown"), [("12", 12), ("-1.5", -1.5), ("2e3", 2000.0), ("abc", "abc")]
    )
    def test_shows_numbers(self, stored, shown):
        assert RedisNumberField().to_representation(stored) == shown


def test_set_field_stores_members_once_and_shows_them_sorted():
    field = field_of(Book, "tags")
    assert field.run_validation(["b", "a", "b"]) == ["b", "a"]
    assert field.to_representation(["b", "a"]) == ["a", "b"]


def test_list_hash_and_sorted_set_fields():
    assert field_of(Book, "chapters").run_validation(["x", "x"]) == ["x", "x"]
    assert field_of(Book, "details").run_validation({"k": " v"}) == {"k": " v"}
    assert field_of(Book, "ratings").run_validation({"a": "1.5", "b": 2}) == {"a": 1.5, "b": 2.0}
    with pytest.raises(serializers.ValidationError):
        field_of(Book, "ratings").run_validation({"a": "high"})


class TestRelatedFields:
    def test_a_foreign_key_takes_the_pk_of_an_existing_instance(self, assert_num_commands):
        Author(pk="ann", name="Ann", email="ann@example.org")
        field = field_of(Book, "author")
        with assert_num_commands(1):  # SISMEMBER
            assert field.run_validation("ann") == "ann"
        with pytest.raises(serializers.ValidationError, match='Invalid pk "bob"'):
            field.run_validation("bob")
        with pytest.raises(serializers.ValidationError, match="Expected pk value, received list"):
            field.run_validation(["ann"])

    def test_many_pks_are_checked_in_one_command(self, assert_num_commands):
        Author(pk="ann", name="Ann", email="ann@example.org")
        Author(pk="bob", name="Bob", email="bob@example.org")
        field = field_of(Book, "coauthors")
        with assert_num_commands(1):  # SMISMEMBER
            assert field.run_validation(["bob", "ann", "bob"]) == ["bob", "ann"]
        with pytest.raises(serializers.ValidationError, match='Invalid pk "cid"'):
            field.run_validation(["ann", "cid"])
        assert field.to_representation(["bob", "ann"]) == ["ann", "bob"]

    def test_an_empty_list_sends_nothing(self, assert_num_commands):
        with assert_num_commands(0):
            assert field_of(Book, "coauthors").run_validation([]) == []
