"""Paginators: a page (with its values) and the count in one round trip."""

import pytest
from django.core.paginator import Paginator
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from django_limpyd.contrib.drf.pagination import (
    RedisCursorPagination,
    RedisPageNumberPagination,
    positive_int,
    read_page,
    sorted_by_pk,
)
from tests.contrib.drf.models import Author, Book, Note


@pytest.fixture
def notes(limpyd_db):
    return [Note(text=f"note {i}", rank=i) for i in range(5)]


class TestPageNumber:
    def test_pages(self, client, notes, assert_num_commands):
        with assert_num_commands(1, round_trips=1):  # the count with the page and values
            response = client.get("/api/notes/?page=2")
        assert response.json() == {
            "count": 5,
            "next": "http://testserver/api/notes/?page=3",
            "previous": "http://testserver/api/notes/",
            "results": [
                {"pk": "3", "text": "note 2", "rank": 2},
                {"pk": "4", "text": "note 3", "rank": 3},
            ],
        }

    def test_last_page_and_page_size(self, client, notes):
        data = client.get("/api/notes/?page=last").json()
        assert data["next"] is None and [n["pk"] for n in data["results"]] == ["5"]
        data = client.get("/api/notes/?page_size=4&page=2").json()
        assert data["previous"] == "http://testserver/api/notes/?page_size=4"
        assert [n["pk"] for n in data["results"]] == ["5"]

    def test_invalid_page_is_a_404(self, client, notes, assert_num_commands):
        with assert_num_commands(1):  # the count, with nothing in the page
            response = client.get("/api/notes/?page=9")
        assert response.status_code == 404
        assert response.json() == {"detail": "Invalid page."}
        with assert_num_commands(0):
            for page in ("0", "-1", "x", "2.0"):
                assert client.get(f"/api/notes/?page={page}").status_code == 404, page

    def test_the_last_page_needs_the_count_first(self, client, notes, assert_num_commands):
        with assert_num_commands(2, round_trips=2):  # count; the page
            data = client.get("/api/notes/?page=last").json()
        assert data["count"] == 5 and [n["pk"] for n in data["results"]] == ["5"]

    def test_multi_value_fields_of_the_page_in_the_same_round_trip(
        self, client, limpyd_db, assert_num_commands
    ):
        for year in (1990, 1980, 1970):
            Book(title=str(year), year=year, tags=[str(year)])
        # the count with the page and its single values; 5 multi-value fields x 2 rows
        with assert_num_commands(1, round_trips=1):
            data = client.get("/api/books/?ordering=year").json()
        assert data["count"] == 3
        assert [(b["year"], b["tags"]) for b in data["results"]] == [
            (1970, ["1970"]),
            (1980, ["1980"]),
        ]

    def test_orphans_and_plain_collections(self, notes, limpyd_db, assert_num_commands):
        class OrphanPaginator(Paginator):
            def __init__(self, object_list, per_page):
                super().__init__(object_list, per_page, orphans=1)

        class Orphans(RedisPageNumberPagination):
            page_size = 2
            django_paginator_class = OrphanPaginator

        def page(number):
            paginator = Orphans()
            request = Request(APIRequestFactory().get("/notes/", {"page": number}))
            with assert_num_commands(1):  # no view: the collection's pks, with the count
                rows = paginator.paginate_queryset(Note.collection(), request)
            return rows, paginator.page.paginator.count, paginator.page.has_next()

        assert page(1) == (["1", "2"], 5, True)
        assert page(2) == (["3", "4", "5"], 5, False)  # the last one takes its orphan
        paginator = Orphans()
        request = Request(APIRequestFactory().get("/notes/", {"page": "1"}))
        assert paginator.paginate_queryset([7, 8, 9], request) == [7, 8, 9]  # not a collection

    def test_nothing_to_show_costs_one_round_trip(self, client, limpyd_db, assert_num_commands):
        with assert_num_commands(1):
            response = client.get("/api/notes/")
        assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}

    def test_unsorted_collections_are_sorted_by_pk(self, client, limpyd_db):
        for pk in ("b", "c", "a"):
            Author(pk=pk, name=pk, email=f"{pk}@x.org")
        assert sorted_by_pk(Author.collection()).ordered
        ordered = Note.collection().sort(by="text", alpha=True)
        assert sorted_by_pk(ordered) is ordered


class TestCursor:
    def test_next_and_previous(self, client, notes, assert_num_commands):
        with assert_num_commands(1):  # the page and one more row
            first = client.get("/api/cursor-notes/?ordering=-rank").json()
        assert first["previous"] is None
        assert [n["rank"] for n in first["results"]] == [4, 3]
        second = client.get(first["next"]).json()
        assert [n["rank"] for n in second["results"]] == [2, 1]
        assert second["previous"] == "http://testserver/api/cursor-notes/?ordering=-rank"
        last = client.get(second["next"]).json()
        assert [n["rank"] for n in last["results"]] == [0]
        assert last["next"] is None
        assert client.get(last["previous"]).json() == second

    def test_invalid_cursors_are_404s(self, client, notes):
        for cursor in ("%%%", "bz0tMQ==", "eD0x", "bz1h"):  # not base64, o=-1, x=1, o=a
            response = client.get(f"/api/cursor-notes/?cursor={cursor}")
            assert response.status_code == 404, cursor
            assert response.json() == {"detail": "Invalid cursor"}

    def test_page_size_from_the_query(self, notes, limpyd_db):
        paginator = RedisCursorPagination()
        paginator.page_size_query_param = "size"
        paginator.max_page_size = 3
        request = Request(APIRequestFactory().get("/notes/", {"size": "10"}))
        rows = paginator.paginate_queryset(Note.collection(), request)
        assert rows == ["1", "2", "3"]  # no view: the collection's pks
        assert paginator.get_next_link() == "http://testserver/notes/?cursor=bz0z&size=10"
        assert paginator.display_page_controls
        names = [p["name"] for p in paginator.get_schema_operation_parameters(None)]
        assert names == ["cursor", "size"]
        assert paginator.get_html_context()["previous_url"] is None

    def test_no_page_size_no_pagination(self, notes):
        request = Request(APIRequestFactory().get("/notes/"))
        assert RedisCursorPagination().paginate_queryset(Note.collection(), request) is None


def test_positive_int():
    assert positive_int("3") == 3 and positive_int("0") == 0
    assert positive_int("30", cutoff=10) == 10
    for text, strict in (("-1", False), ("0", True), ("x", False)):
        with pytest.raises(ValueError):
            positive_int(text, strict=strict)


def test_read_page_without_a_redis_serializer(notes):
    assert read_page(Note.collection().sort(by="pk")[:2], view=None) == ["1", "2"]
