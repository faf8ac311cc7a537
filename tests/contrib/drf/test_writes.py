"""Writes and their errors: the DRF error of each refused write."""

import pytest
from rest_framework.exceptions import NotFound, ValidationError

from django_limpyd.contrib.drf.writes import create_instance, update_instance, write_error
from django_limpyd.exceptions import (
    DoesNotExist,
    ImplementationError,
    InvalidValue,
    UniquenessError,
)
from tests.contrib.drf.models import Author, Book, Note


def test_create_is_one_script_call(limpyd_db, assert_num_commands):
    with assert_num_commands(1):
        note = create_instance(Note, {"text": "a", "rank": "3"})
    assert note.hmget("text", "rank") == ["a", "3"]


def test_an_update_of_one_field_is_one_call_without_transaction(limpyd_db, assert_num_commands):
    book = Book(title="a", tags=["x"])
    with assert_num_commands(1):
        update_instance(book, {"summary": "s"})
    with assert_num_commands(1):
        update_instance(book, {"tags": None})
    with assert_num_commands(0):
        update_instance(book, {})
    assert book.summary.get() == "s" and not book.tags.smembers()


def test_every_multi_value_type_is_replaced(limpyd_db):
    book = Book(title="a", tags=["x"], chapters=["c"], ratings={"r": 1}, details={"k": "v"})
    update_instance(
        book,
        {"tags": ["y"], "chapters": ["d", "d"], "ratings": {"s": 2.5}, "details": {"n": "m"}},
    )
    assert book.tags.smembers() == {"y"}
    assert book.chapters.lrange(0, -1) == ["d", "d"]
    assert book.ratings.zrange(0, -1, withscores=True) == [("s", 2.5)]
    assert book.details.hgetall() == {"n": "m"}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            UniquenessError("Book.title value 'a' already exists (for instance 1); ..."),
            {"name": ["Book with this title already exists."]},
        ),
        (
            UniquenessError("Book '3' already exists."),
            {"pk": ["Book with this pk already exists."]},
        ),
        (InvalidValue("Book.isbn cannot store None."), {"isbn": ["Book.isbn cannot store None."]}),
        (InvalidValue("Something else."), {"non_field_errors": ["Something else."]}),
        (
            DoesNotExist("Book.author cannot point to Author 'x': it does not exist."),
            {"author": ["Book.author cannot point to Author 'x': it does not exist."]},
        ),
    ],
)
def test_write_errors_become_400s_on_their_field(error, expected):
    result = write_error(error, Book, {"title": "name"})
    assert isinstance(result, ValidationError)
    assert result.detail == expected


def test_the_instance_gone_is_a_404():
    result = write_error(Book.DoesNotExist("Book '3' does not exist (deleted?)."), Book, {})
    assert isinstance(result, NotFound)


def test_other_errors_are_left_alone():
    error = ImplementationError("Book.nope: no such field.")
    assert write_error(error, Book, {}) is error


def test_the_field_is_found_in_the_message():
    result = write_error(UniquenessError("Author.email value 'x' already exists"), Author, {})
    assert result.detail == {"email": ["Author with this email already exists."]}
