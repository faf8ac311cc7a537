"""``RedisModelSerializer``: fields from Meta, reading, and create/update as one atomic
write."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.drf import RedisListSerializer, RedisModelSerializer
from tests.contrib.drf.api import AuthorSerializer, BookSerializer, NoteSerializer
from tests.contrib.drf.models import Author, Book, Note, Tag


@pytest.fixture
def ann(limpyd_db):
    return Author(pk="ann", name="Ann", email="ann@example.org")


def serializer_class(**meta):
    """A serializer of Book with these Meta options."""
    meta.setdefault("model", Book)
    return type("Ser", (RedisModelSerializer,), {"Meta": type("Meta", (), meta)})


class TestMeta:
    def test_model_must_be_a_redis_model(self):
        with pytest.raises(ImproperlyConfigured, match="Ser.Meta.model must be a Redis model"):
            serializer_class(model=object)

    def test_fields_or_exclude(self):
        with pytest.raises(ImproperlyConfigured, match="set either `fields`"):
            serializer_class()().fields  # noqa: B018
        with pytest.raises(ImproperlyConfigured, match="set either `fields`"):
            serializer_class(fields="__all__", exclude=["title"])().fields  # noqa: B018
        with pytest.raises(ImproperlyConfigured, match="must be a list"):
            serializer_class(fields="title")().fields  # noqa: B018

    def test_unknown_names_are_named(self):
        message = r"names 'nope', which is neither a field of Book \(pk, title"
        with pytest.raises(ImproperlyConfigured, match=message):
            serializer_class(fields=["title", "nope"])().fields  # noqa: B018
        with pytest.raises(ImproperlyConfigured, match="exclude names 'nope'"):
            serializer_class(exclude=["nope"])().fields  # noqa: B018

    def test_all_fields_pk_first_then_declared(self):
        assert list(BookSerializer().fields) == [
            "pk", "title", "year", "genre", "isbn", "summary", "tags", "chapters", "ratings",
            "details", "author", "coauthors", "url",
        ]  # fmt: skip

    def test_exclude_read_only_fields_and_extra_kwargs(self):
        ser = serializer_class(
            exclude=["details", "ratings"],
            read_only_fields=["genre"],
            extra_kwargs={"title": {"help_text": "The title."}},
        )()
        assert "details" not in ser.fields and "ratings" not in ser.fields
        assert ser.fields["genre"].read_only
        assert ser.fields["title"].help_text == "The title."

    def test_declared_fields_must_be_listed(self):
        class Ser(RedisModelSerializer):
            extra = serializers.CharField()

            class Meta:
                model = Book
                fields = ["title"]

        with pytest.raises(ImproperlyConfigured, match="must include the declared field"):
            Ser().fields  # noqa: B018

    def test_nested_serializers_are_read_only(self):
        class Ser(RedisModelSerializer):
            author = AuthorSerializer()

            class Meta:
                model = Book
                fields = ["author"]

        with pytest.raises(ImproperlyConfigured, match="declare them with read_only=True"):
            Ser().fields  # noqa: B018

    def test_many_gives_the_redis_list_serializer(self):
        assert isinstance(BookSerializer(many=True), RedisListSerializer)

        class CustomList(serializers.ListSerializer):
            pass

        class Ser(RedisModelSerializer):
            class Meta:
                model = Book
                fields = "__all__"
                list_serializer_class = CustomList

        assert type(Ser(many=True)) is CustomList


class TestReading:
    def test_an_instance_in_one_round_trip(self, ann, assert_num_commands):
        with assert_num_commands(1):
            data = AuthorSerializer(ann).data
        assert data == {"pk": "ann", "name": "Ann", "email": "ann@example.org"}

    def test_a_pk_or_a_row(self, ann):
        assert AuthorSerializer("ann").data["name"] == "Ann"

    def test_a_collection_with_many(self, ann, assert_num_commands):
        Author(pk="bob", name="Bob", email="bob@example.org")
        collection = Author.collection(manager=ExtendedCollectionManager).sort(by="pk", alpha=True)
        with assert_num_commands(1):  # values with the pks
            data = AuthorSerializer(collection, many=True).data
        assert [row["name"] for row in data] == ["Ann", "Bob"]

    def test_fields_that_are_not_model_fields_get_the_row(self, ann):
        class Ser(RedisModelSerializer):
            shout = serializers.SerializerMethodField()

            class Meta:
                model = Author
                fields = ["name", "shout"]

            def get_shout(self, row):
                return f"{row['name'].upper()} ({row.pk})"

        assert Ser(ann).data == {"name": "Ann", "shout": "ANN (ann)"}

    def test_a_source_names_the_model_field(self, ann):
        class Ser(RedisModelSerializer):
            full_name = serializers.CharField(source="name")

            class Meta:
                model = Author
                fields = ["full_name"]

        assert Ser(ann).data == {"full_name": "Ann"}


class TestCreate:
    def test_one_script_call_without_empty_values(self, ann, assert_num_commands):
        ser = BookSerializer(
            data={"title": "Dune", "summary": None, "tags": [], "ratings": {"a": 1}},
            context={"request": None},
        )
        with assert_num_commands(1):  # the unique check of title
            assert ser.is_valid(), ser.errors
        with assert_num_commands(1):
            book = ser.save()
        assert book.title.hget() == "Dune" and book.ratings.zscore("a") == 1.0
        assert not book.tags.smembers() and book.summary.get() is None

    def test_defaults_apply(self, limpyd_db):
        ser = NoteSerializer(data={"text": "x"})
        assert ser.is_valid()
        assert ser.save().rank.hget() == "0"

    def test_nothing_to_store_is_an_error(self, limpyd_db):
        ser = BookSerializer(data={"title": None})
        assert ser.is_valid()
        with pytest.raises(serializers.ValidationError) as raised:
            ser.save()
        message = "Give at least one value: an instance without values is not saved."
        assert raised.value.detail == {"non_field_errors": [message]}
        assert Book.collection().count() == 0

    def test_a_unique_value_taken_before_the_write_is_a_400(self, limpyd_db):
        ser = BookSerializer(data={"title": "Dune", "year": 1965})
        assert ser.is_valid()
        Book(title="Dune")  # a concurrent writer wins the race
        with pytest.raises(serializers.ValidationError) as raised:
            ser.save()
        assert raised.value.detail == {"title": ["Book with this title already exists."]}
        assert Book.collection(year=1965).count() == 0

    def test_the_race_error_names_the_serializer_field(self, limpyd_db):
        class Ser(RedisModelSerializer):
            label = serializers.CharField(source="name")

            class Meta:
                model = Tag
                fields = ["label"]

        ser = Ser(data={"label": "x"})
        assert ser.is_valid()
        Tag(name="x")
        with pytest.raises(serializers.ValidationError) as raised:
            ser.save()
        assert raised.value.detail == {"label": ["Tag with this name already exists."]}

    def test_a_given_pk_taken_meanwhile(self, limpyd_db):
        ser = AuthorSerializer(data={"pk": "ann", "name": "Ann", "email": "a@x.org"})
        assert ser.is_valid()
        Author(pk="ann", name="Other", email="other@x.org")
        with pytest.raises(serializers.ValidationError) as raised:
            ser.save()
        assert raised.value.detail == {"pk": ["Author with this pk already exists."]}

    def test_a_target_deleted_meanwhile(self, ann):
        ser = BookSerializer(data={"title": "Dune", "author": "ann"})
        assert ser.is_valid()
        ann.delete()
        with pytest.raises(serializers.ValidationError) as raised:
            ser.save()
        assert list(raised.value.detail) == ["author"]
        assert "cannot point to Author 'ann'" in str(raised.value.detail["author"][0])


class TestUpdate:
    @pytest.fixture
    def book(self, ann):
        return Book(
            title="Hobbit", year=1937, genre="fantasy", summary="s", tags=["a"], author="ann"
        )

    def test_instance_hash_fields_in_one_hmset(self, book, assert_num_commands):
        ser = BookSerializer(book, data={"title": "The Hobbit", "year": 1938}, partial=True)
        assert ser.is_valid(), ser.errors
        with assert_num_commands(1):
            ser.save()
        assert book.hmget("title", "year") == ["The Hobbit", "1938"]

    def test_several_kinds_in_one_transaction(self, book, assert_num_commands):
        data = {"genre": None, "year": 2000, "summary": "new", "tags": ["b", "c"], "chapters": []}
        ser = BookSerializer(book, data=data, partial=True)
        assert ser.is_valid(), ser.errors
        with assert_num_commands(8, round_trips=1) as recorder:
            ser.save()
        # MULTI, hmset, hdel, set, delete + sadd, delete (empty list), EXEC
        assert recorder.commands[0] == ("MULTI",) and recorder.commands[-1] == ("EXEC",)
        assert book.hmget("genre", "year") == [None, "2000"]
        assert book.summary.get() == "new" and book.tags.smembers() == {"b", "c"}
        assert Book.collection(genre="fantasy").count() == 0

    def test_null_deletes(self, book):
        ser = BookSerializer(book, data={"summary": None, "tags": None}, partial=True)
        assert ser.is_valid()
        ser.save()
        assert book.summary.get() is None and book.tags.smembers() == set()

    def test_keeping_its_own_unique_value(self, book):
        ser = BookSerializer(book, data={"title": "Hobbit"}, partial=True)
        assert ser.is_valid(), ser.errors

    def test_a_given_pk_never_changes(self, ann):
        ser = AuthorSerializer(ann, data={"pk": "zed", "name": "Ann 2"}, partial=True)
        assert ser.is_valid()
        ser.save()
        assert Author.exists("ann") and not Author.exists("zed")

    def test_a_unique_value_taken_meanwhile_in_a_transaction(self, book):
        ser = BookSerializer(book, data={"title": "Dune", "summary": "x"}, partial=True)
        assert ser.is_valid()
        Book(title="Dune")
        with pytest.raises(serializers.ValidationError) as raised:
            ser.save()
        assert raised.value.detail == {"title": ["Book with this title already exists."]}
        assert book.title.hget() == "Hobbit"

    def test_the_instance_deleted_meanwhile_is_a_404(self, book):
        ser = BookSerializer(book, data={"title": "Gone"}, partial=True)
        assert ser.is_valid()
        book.delete()
        with pytest.raises(NotFound, match="does not exist"):
            ser.save()

    def test_the_representation_after_a_write_reads_again(self, book, assert_num_commands):
        ser = NoteSerializer(Note(text="a"), data={"text": "b"}, partial=True)
        assert ser.is_valid()
        ser.save()
        with assert_num_commands(1):
            assert ser.data["text"] == "b"
