"""``RedisUniqueValidator``: one collection per value, the updated instance excepted."""

from rest_framework import serializers

from django_limpyd.contrib.drf import RedisModelSerializer, RedisUniqueValidator, Row
from django_limpyd.contrib.drf.validators import pk_of, unique_message
from tests.contrib.drf.models import Tag


class TagSerializer(RedisModelSerializer):
    class Meta:
        model = Tag
        fields = "__all__"


def test_message_and_repr():
    assert unique_message(Tag, "name") == "Tag with this name already exists."
    assert repr(RedisUniqueValidator(Tag, "name")) == "<RedisUniqueValidator Tag.name>"


def test_pk_of_instances_rows_and_nothing(limpyd_db):
    tag = Tag(name="a")
    assert pk_of(tag) == "1" and pk_of(Row(Tag, "7")) == "7" and pk_of(None) is None


def test_a_value_held_by_another_instance(limpyd_db, assert_num_commands):
    Tag(name="a")
    ser = TagSerializer(data={"name": "a"})
    with assert_num_commands(1):
        assert not ser.is_valid()
    assert ser.errors == {"name": ["Tag with this name already exists."]}
    assert ser.errors["name"][0].code == "unique"


def test_the_updated_instance_may_keep_its_values(limpyd_db):
    tag = Tag(name="a", aliases=["x", "y"])
    ser = TagSerializer(tag, data={"name": "a", "aliases": ["y", "z"]})
    assert ser.is_valid(), ser.errors


def test_each_member_of_a_unique_set(limpyd_db, assert_num_commands):
    Tag(name="a", aliases=["x", "y"])
    ser = TagSerializer(data={"name": "b", "aliases": ["z", "y"]})
    with assert_num_commands(3):  # name, then each member until one is taken
        assert not ser.is_valid()
    assert ser.errors == {"aliases": ["Tag with this aliases already exists."]}


def test_a_custom_message(limpyd_db):
    Tag(name="a")
    validator = RedisUniqueValidator(Tag, "name", message="Taken.")

    class Ser(serializers.Serializer):
        name = serializers.CharField(validators=[validator])

    ser = Ser(data={"name": "a"})
    assert not ser.is_valid()
    assert ser.errors == {"name": ["Taken."]}


def test_a_value_the_field_refuses_is_left_to_the_field(limpyd_db):
    ser = TagSerializer(data={"name": "a\0b"})
    assert not ser.is_valid()
    assert ser.errors["name"][0].code == "null_characters_not_allowed"
