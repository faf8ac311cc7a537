"""Viewsets through DRF's APIClient: every route, its errors, and the commands each
request sends."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from rest_framework import serializers

from django_limpyd.contrib.drf import RedisGenericViewSet, RedisReadOnlyModelViewSet
from tests.contrib.drf.api import AuthorSerializer, NoteSerializer
from tests.contrib.drf.models import Author, Book, Note


@pytest.fixture
def hobbit(limpyd_db):
    Author(pk="ann", name="Ann", email="ann@example.org")
    return Book(
        title="Hobbit", year=1937, genre="fantasy", isbn="i-1", tags=["b", "a"], author="ann"
    )


BOOK = {
    "pk": "1",
    "title": "Hobbit",
    "year": 1937,
    "genre": "fantasy",
    "isbn": "i-1",
    "summary": None,
    "tags": ["a", "b"],
    "chapters": [],
    "ratings": {},
    "details": {},
    "author": "ann",
    "coauthors": [],
    "url": "http://testserver/api/books/1/",
}


def test_routes():
    assert reverse("book-list") == "/api/books/"
    assert reverse("book-detail", kwargs={"pk": "a.b:c*"}) == "/api/books/a.b:c*/"


class TestBooks:
    """A model with fields of every type: each request, with its exact commands."""

    def test_list(self, client, hobbit, assert_num_commands):
        # the count with the page and all its values, multi-value fields included
        with assert_num_commands(1, round_trips=1):
            response = client.get("/api/books/")
        assert response.json() == {"count": 1, "next": None, "previous": None, "results": [BOOK]}

    def test_retrieve(self, client, hobbit, assert_num_commands):
        with assert_num_commands(1, round_trips=1):  # the instance with all its values
            response = client.get("/api/books/1/")
        assert response.json() == BOOK

    def test_retrieve_a_missing_instance(self, client, hobbit, assert_num_commands):
        with assert_num_commands(1):
            assert client.get("/api/books/2/").status_code == 404

    def test_create(self, client, hobbit, assert_num_commands):
        data = {"title": "Dune", "year": 1965, "tags": ["sf"], "author": "ann"}
        # title unique (1), author exists (1), create (1), read back: HMGET, 2 GET, 5 multi
        with assert_num_commands(11, round_trips=4):
            response = client.post("/api/books/", data, format="json")
        assert response.status_code == 201
        assert response["Location"] == "http://testserver/api/books/2/"
        assert response.json()["tags"] == ["sf"] and response.json()["year"] == 1965

    def test_create_with_a_uniqueness_error(self, client, hobbit, assert_num_commands):
        with assert_num_commands(2):  # the unique checks of title and isbn; nothing written
            response = client.post("/api/books/", {"title": "Hobbit", "isbn": "i-2"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"title": ["Book with this title already exists."]}
        assert Book.collection().count() == 1

    def test_create_with_bad_values(self, client, hobbit):
        data = {"year": "soon", "tags": "x", "author": "bob", "ratings": {"a": "b"}}
        response = client.post("/api/books/", data, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "year": ["A number is required: this field has a number range index."],
            "tags": ['Expected a list of items but got type "str".'],
            "ratings": {"a": ["A valid number is required."]},
            "author": ['Invalid pk "bob" - object does not exist.'],
        }

    def test_update(self, client, hobbit, assert_num_commands):
        data = {"title": "The Hobbit", "tags": ["c"], "summary": "There and back."}
        # the instance (1); title unique (1); MULTI, hmset, set, delete + sadd, EXEC (1);
        # read back (1)
        with assert_num_commands(16, round_trips=4):
            response = client.put("/api/books/1/", data, format="json")
        assert response.status_code == 200
        assert response.json() == {
            **BOOK,
            "title": "The Hobbit",
            "tags": ["c"],
            "summary": "There and back.",
        }

    def test_partial_update_of_instance_hash_fields(self, client, hobbit, assert_num_commands):
        # the instance; one hmset; read back
        with assert_num_commands(1 + 1 + 8, round_trips=3):
            response = client.patch("/api/books/1/", {"genre": "kids", "year": 1938})
        assert response.status_code == 200
        assert (response.json()["genre"], response.json()["year"]) == ("kids", 1938)

    def test_update_a_missing_instance(self, client, hobbit):
        assert client.patch("/api/books/9/", {"genre": "x"}).status_code == 404

    def test_delete(self, client, hobbit, assert_num_commands):
        with assert_num_commands(2, round_trips=2):  # the instance; delete
            response = client.delete("/api/books/1/")
        assert response.status_code == 204
        assert not Book.exists(1)
        assert client.delete("/api/books/1/").status_code == 404


class TestNotes:
    """InstanceHashFields only: a page or an instance is one round trip."""

    @pytest.fixture
    def notes(self, limpyd_db):
        return [Note(text=f"n{i}", rank=i) for i in range(3)]

    def test_commands_per_request(self, client, notes, assert_num_commands):
        with assert_num_commands(1):  # the count with the page
            assert client.get("/api/notes/?ordering=-rank").status_code == 200
        with assert_num_commands(1):
            assert client.get("/api/notes/1/").json() == {"pk": "1", "text": "n0", "rank": 0}
        with assert_num_commands(2):  # create, read back
            assert client.post("/api/notes/", {"text": "n3"}).json()["rank"] == 0
        with assert_num_commands(3):  # the instance, hmset, read back
            assert client.patch("/api/notes/1/", {"rank": "7"}).json()["rank"] == 7
        with assert_num_commands(3):  # the instance, hdel, read back
            assert client.patch("/api/notes/1/", {"rank": None}, format="json").status_code == 200
        with assert_num_commands(2):
            assert client.delete("/api/notes/2/").status_code == 204


class TestAuthors:
    """Pks given by hand, with any character but ``/``."""

    @pytest.mark.parametrize("pk", ["a:b*{c}", "a.b", "é t"])
    def test_pks_in_urls(self, client, limpyd_db, pk):
        response = client.post(
            "/api/authors/", {"pk": pk, "name": "X", "email": f"{pk}@x"}, format="json"
        )
        assert response.status_code == 201, response.json()
        url = reverse("author-detail", kwargs={"pk": pk})
        assert client.get(url).json()["pk"] == pk
        assert client.patch(url, {"pk": "other", "name": "Y"}).json() == {
            "pk": pk,
            "name": "Y",
            "email": f"{pk}@x",
        }

    def test_a_pk_taken(self, client, limpyd_db, assert_num_commands):
        Author(pk="ann", name="Ann", email="ann@example.org")
        with assert_num_commands(2):  # pk, email
            response = client.post("/api/authors/", {"pk": "ann", "email": "new@x"}, format="json")
        assert response.json() == {"pk": ["Author with this pk already exists."]}

    def test_the_pk_is_required(self, client, limpyd_db):
        response = client.post("/api/authors/", {"name": "Ann"}, format="json")
        assert response.json() == {"pk": ["This field is required."]}


class TestNested:
    def test_related_instances_are_read_for_all_rows_at_once(
        self, client, hobbit, assert_num_commands
    ):
        Author(pk="bob", name="Bob", email="bob@example.org")
        Book(title="Dune", author="bob", coauthors=["ann", "bob"])
        # the books with all their values (coauthors included); the authors' HMGET x 2
        with assert_num_commands(3, round_trips=2):
            response = client.get("/api/nested-books/?ordering=pk")
        ann = {"pk": "ann", "name": "Ann", "email": "ann@example.org"}
        bob = {"pk": "bob", "name": "Bob", "email": "bob@example.org"}
        assert response.json() == [
            {"pk": "1", "title": "Hobbit", "author": ann, "coauthors": []},
            {"pk": "2", "title": "Dune", "author": bob, "coauthors": [ann, bob]},
        ]


class TestCustomViews:
    def test_a_restricted_queryset(self, rf, limpyd_db):
        Note(text="kept", rank=1)
        Note(text="hidden", rank=5)

        class LowNotes(RedisReadOnlyModelViewSet):
            serializer_class = NoteSerializer
            queryset = Note.collection(rank__lte=2)
            pagination_class = None

        listing = LowNotes.as_view({"get": "list"})
        detail = LowNotes.as_view({"get": "retrieve"})
        assert [n["text"] for n in listing(rf.get("/")).data] == ["kept"]
        assert detail(rf.get("/"), pk="1").status_code == 200
        assert detail(rf.get("/"), pk="2").status_code == 404

    def test_the_model_comes_from_the_serializer_or_the_view(self):
        assert RedisGenericViewSet(serializer_class=AuthorSerializer).get_model() is Author
        assert RedisGenericViewSet(model=Note).get_model() is Note
        with pytest.raises(ImproperlyConfigured, match="set `model`, `queryset` or a serializer"):
            RedisGenericViewSet(serializer_class=object).get_model()


def test_a_plain_serializer_gets_instances(rf, limpyd_db):
    Note(text="a", rank=1)

    class Plain(serializers.Serializer):
        text = serializers.SerializerMethodField()

        def get_text(self, instance):
            return instance.text.hget()

    class PlainNotes(RedisReadOnlyModelViewSet):
        serializer_class = Plain
        model = Note
        pagination_class = None

    assert PlainNotes.as_view({"get": "retrieve"})(rf.get("/"), pk="1").data == {"text": "a"}
    assert PlainNotes.as_view({"get": "list"})(rf.get("/")).status_code == 200
