"""Rows: what serializer fields read, and the round trips reading them costs."""

import pytest

from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.drf import Row, RowReader
from tests.contrib.drf.models import Author, Book, Tag


@pytest.fixture
def books(limpyd_db):
    Author(pk="ann", name="Ann", email="ann@example.org")
    Author(pk="bob", name="Bob", email="bob@example.org")
    hobbit = Book(
        title="Hobbit",
        year=1937,
        tags=["b", "a"],
        chapters=["one", "two", "one"],
        ratings={"x": 2, "y": 1.5},
        details={"pages": "310", "cover": "green"},
        author="ann",
        coauthors=["bob", "ann"],
    )
    dune = Book(title="Dune", year=1965, author="bob")
    return hobbit, dune


def test_a_row_is_a_dict_with_its_pk_and_instance():
    tag = Tag(name="a")
    row = Row(Tag, "1", {"name": "a"})
    assert row == {"pk": "1", "id": "1", "name": "a"}
    assert row.pk == "1" and row.model is Tag
    assert row.instance == tag
    assert repr(row) == "<Row Tag pk='1' {'name': 'a', 'pk': '1', 'id': '1'}>"


def test_single_values_of_a_collection_come_with_its_pks(books, assert_num_commands):
    collection = Book.collection(manager=ExtendedCollectionManager).sort(by="year")
    reader = RowReader(Book, ["pk", "title", "year"])
    with assert_num_commands(1):
        rows = reader.read(collection)
    assert rows == [
        {"pk": "1", "title": "Hobbit", "year": "1937"},
        {"pk": "2", "title": "Dune", "year": "1965"},
    ]


def test_multi_values_of_every_row_in_the_same_round_trip(books, assert_num_commands):
    collection = Book.collection(manager=ExtendedCollectionManager).sort(by="year")
    names = ["title", "summary", "tags", "chapters", "ratings", "details", "coauthors"]
    with assert_num_commands(1, round_trips=1):  # the collection function reads them all
        hobbit, dune = RowReader(Book, names).read(collection)
    assert hobbit["summary"] is None
    assert hobbit["tags"] == ["a", "b"]
    assert hobbit["chapters"] == ["one", "two", "one"]
    assert list(hobbit["ratings"].items()) == [("y", 1.5), ("x", 2.0)]
    assert list(hobbit["details"].items()) == [("cover", "green"), ("pages", "310")]
    assert hobbit["coauthors"] == ["ann", "bob"]
    assert dune["tags"] == [] and dune["ratings"] == {} and dune["details"] == {}


def test_a_plain_collection_gives_its_pks_then_values(books, assert_num_commands):
    with assert_num_commands(3, round_trips=2):  # the script; HMGET x 2
        rows = RowReader(Book, ["title"]).read(Book.collection().sort(by="pk"))
    assert [row["title"] for row in rows] == ["Hobbit", "Dune"]


def test_read_counted_gets_the_count_with_the_page(books, assert_num_commands):
    extended = Book.collection(manager=ExtendedCollectionManager).sort(by="year", desc=True)
    reader = RowReader(Book, ["pk", "title", "tags"])
    with assert_num_commands(1, round_trips=1):  # the count, page and every value
        total, rows = reader.read_counted(extended, 1, 5)
    assert (total, rows) == (2, [{"pk": "1", "title": "Hobbit", "tags": ["a", "b"]}])
    with assert_num_commands(2, round_trips=2):  # the count and pks; HMGET
        total, rows = RowReader(Book, ["title"]).read_counted(Book.collection().sort(by="pk"), 1)
    assert (total, rows) == (2, [{"pk": "2", "title": "Dune"}])


def test_instances_and_pks_are_read_in_one_round_trip(books, assert_num_commands):
    _hobbit, dune = books
    with assert_num_commands(4, round_trips=1):  # HMGET + GET per row
        rows = RowReader(Book, ["title", "isbn", "year"]).read([dune, "1"])
    assert [(row.pk, row["title"], row["isbn"]) for row in rows] == [
        ("2", "Dune", None),
        ("1", "Hobbit", None),
    ]


def test_rows_already_read_send_nothing(books, assert_num_commands):
    reader = RowReader(Book, ["title"])
    rows = reader.read(["1"])
    with assert_num_commands(0):
        assert reader.read(rows) == rows


def test_an_unsaved_instance_has_no_row():
    with pytest.raises(ValueError, match="This Book is not saved"):
        RowReader(Book, ["title"]).read([Book()])


def test_related_fields_to_one_model_are_read_together(books, assert_num_commands):
    authors = RowReader(Author, ["name"])
    nested = {"author": authors, "coauthors": authors}
    reader = RowReader(Book, ["title", "author", "coauthors"], nested)
    collection = Book.collection(manager=ExtendedCollectionManager).sort(by="year")
    with assert_num_commands(3, round_trips=2):  # the function; HMGET x 2 authors
        hobbit, dune = reader.read(collection)
    assert hobbit["author"] == {"pk": "ann", "name": "Ann"}
    assert isinstance(hobbit["author"], Row)
    assert [row["name"] for row in hobbit["coauthors"]] == ["Ann", "Bob"]
    assert dune["author"]["name"] == "Bob" and dune["coauthors"] == []
    with assert_num_commands(0):  # resolved rows are not resolved again
        reader.read([hobbit, dune])


def test_a_vanished_instance_reads_as_empty_values(books):
    [row] = RowReader(Book, ["title", "tags"]).read(["99"])
    assert row == {"pk": "99", "title": None, "tags": []}
