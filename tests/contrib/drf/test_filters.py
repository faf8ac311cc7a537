"""Filter backends through the API: query parameters as index lookups, ``?ordering=``."""

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from django_limpyd.contrib.drf import RedisFilterBackend, RedisOrderingFilter
from tests.contrib.drf.api import BookViewSet, CursorNoteViewSet
from tests.contrib.drf.models import Book, Note


@pytest.fixture
def books(limpyd_db):
    specs = [
        ("Hobbit", 1937, "fantasy", ["classic", "dragons"]),
        ("Dune", 1965, "sf", ["classic", "desert"]),
        ("Emma", 1815, "classic", []),
        ("Neuromancer", 1984, "sf", ["cyber"]),
    ]
    return [
        Book(title=title, year=year, genre=genre, tags=tags, isbn=f"isbn-{year}")
        for title, year, genre, tags in specs
    ]


def titles(response):
    assert response.status_code == 200, response.json()
    return [book["title"] for book in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("genre=sf&ordering=title", ["Dune", "Neuromancer"]),
        ("year__gte=1950&ordering=year", ["Dune", "Neuromancer"]),
        ("year__lt=1950&year__gt=1900", ["Hobbit"]),
        ("title__startswith=N", ["Neuromancer"]),
        ("title__gte=F&ordering=title", ["Hobbit", "Neuromancer"]),
        ("tags__in=dragons,cyber&ordering=year", ["Hobbit", "Neuromancer"]),
        ("tags__in=dragons&tags__in=cyber&ordering=year", ["Hobbit", "Neuromancer"]),
        ("tags=classic&tags=desert", ["Dune"]),
        ("pk__in=1,3,99&ordering=pk", ["Hobbit", "Emma"]),
        ("pk=2", ["Dune"]),
        ("genre=nothing", []),
        (
            "page_size=10&format=json&unknown=1&ordering=-year",
            ["Neuromancer", "Dune", "Hobbit", "Emma"],
        ),
    ],
)
def test_filters(client, books, query, expected):
    assert titles(client.get(f"/api/books/?{query}&page_size=10")) == expected


def test_a_filtered_sorted_page_is_one_script_call(client, books, assert_num_commands):
    with assert_num_commands(1, round_trips=1):  # count, page and every value
        response = client.get("/api/books/?year__gte=1950&ordering=-year")
    assert titles(response) == ["Neuromancer", "Dune"]


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ("summary=x", "summary", "Cannot filter Book on 'summary': Book.summary is not indexed"),
        ("genre__gte=a", "genre__gte", "No index of Book.genre handles the filter 'genre__gte'"),
        ("year__gte=old", "year__gte", "Book.year__gte needs a number, got 'old'"),
        ("details=k", "details", "Book.details is a HashField"),
    ],
)
def test_filters_the_indexes_cannot_serve_are_400s(
    client, books, assert_num_commands, query, param, message
):
    with assert_num_commands(0):
        response = client.get(f"/api/books/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [param]
    assert response.json()[param][0].startswith(message)


def test_filterset_fields_restrict_fields_and_suffixes(client, limpyd_db):
    for rank in range(4):
        Note(text=f"n{rank}", rank=rank)
    response = client.get("/api/cursor-notes/?rank__gte=2&ordering=rank")
    assert [note["rank"] for note in response.json()["results"]] == [2, 3]
    assert client.get("/api/cursor-notes/?text__in=n1,n3").json()["results"] != []
    response = client.get("/api/cursor-notes/?rank=2&pk=1")
    assert response.status_code == 400
    assert response.json() == {
        "rank": ["Filtering Note on 'rank' is not allowed."],
        "pk": ["Filtering Note on 'pk' is not allowed."],
    }


class TestOrdering:
    @pytest.mark.parametrize(
        ("ordering", "expected"),
        [
            ("year", ["Emma", "Hobbit", "Dune", "Neuromancer"]),  # numbers
            ("-year", ["Neuromancer", "Dune", "Hobbit", "Emma"]),
            ("title", ["Dune", "Emma", "Hobbit", "Neuromancer"]),  # text
            ("-pk", ["Neuromancer", "Emma", "Dune", "Hobbit"]),
            ("isbn", ["Emma", "Hobbit", "Dune", "Neuromancer"]),  # a StringField
        ],
    )
    def test_one_field_asc_or_desc(self, client, books, ordering, expected):
        assert titles(client.get(f"/api/books/?ordering={ordering}&page_size=10")) == expected

    @pytest.mark.parametrize(
        ("ordering", "expected"),
        [
            ("genre,-year", ["Emma", "Hobbit", "Neuromancer", "Dune"]),
            ("-genre,title", ["Dune", "Neuromancer", "Hobbit", "Emma"]),
            ("-genre, -title", ["Neuromancer", "Dune", "Hobbit", "Emma"]),  # spaces, as DRF
            ("genre,,-pk,", ["Emma", "Hobbit", "Neuromancer", "Dune"]),  # empty terms skipped
            ("-year,title", ["Neuromancer", "Dune", "Hobbit", "Emma"]),
        ],
    )
    def test_several_fields(self, client, books, assert_num_commands, ordering, expected):
        """``?ordering=a,-b``: equal values of ``a`` sorted by ``b``, as ``order_by``,
        with the filters and the page in one call of the collection function."""
        with assert_num_commands(1, round_trips=1):
            response = client.get(f"/api/books/?ordering={ordering}&page_size=10")
        assert titles(response) == expected
        response = client.get(f"/api/books/?genre__in=sf,fantasy&ordering={ordering}&page=2")
        assert titles(response) == [t for t in expected if t != "Emma"][2:]

    def test_several_fields_with_cursor_pages(self, client, limpyd_db):
        for text, rank in [("b", 1), ("a", 2), ("c", 1), ("a", 1), ("d", 2)]:
            Note(text=text, rank=rank)
        seen, url = [], "/api/cursor-notes/?ordering=-rank,text"
        while url:
            body = client.get(url).json()
            seen += [(note["rank"], note["text"]) for note in body["results"]]
            url = body["next"]
        assert seen == [(2, "a"), (2, "d"), (1, "a"), (1, "b"), (1, "c")]

    def test_numbers_sort_as_numbers(self, client, limpyd_db):
        for rank in (9, 10, 100):
            Note(text=str(rank), rank=rank)
        response = client.get("/api/cursor-notes/?ordering=rank")
        assert [note["rank"] for note in response.json()["results"]] == [9, 10]
        response = client.get("/api/cursor-notes/?ordering=text")  # as text
        assert [note["text"] for note in response.json()["results"]] == ["10", "100"]

    @pytest.mark.parametrize(
        ("ordering", "message"),
        [
            ("nope", "Cannot order Book by 'nope': Book has no field 'nope' (allowed: pk, title,"),
            ("-tags", "Cannot order Book by 'tags': Book.tags holds several values"),
            ("year,-nope", "Cannot order Book by 'nope': Book has no field 'nope'"),
            ("genre,tags", "Cannot order Book by 'tags': Book.tags holds several values"),
        ],
    )
    def test_refused_orderings_are_400s(self, client, books, ordering, message):
        response = client.get(f"/api/books/?ordering={ordering}")
        assert response.status_code == 400
        assert response.json()["ordering"][0].startswith(message)

    def test_ordering_fields_restrict(self, client, limpyd_db):
        response = client.get("/api/cursor-notes/?ordering=pk")
        assert response.status_code == 400
        assert response.json() == {
            "ordering": [
                "Cannot order Note by 'pk': it is not in ordering_fields (allowed: rank, text)."
            ]
        }

    def test_the_view_default(self, client, limpyd_db):
        for text in ("b", "a", "c"):
            Note(text=text)
        response = client.get("/api/notes/")  # ordering = "pk"
        assert [note["text"] for note in response.json()["results"]] == ["b", "a"]


def test_schema_parameters():
    view = BookViewSet()
    names = [p["name"] for p in RedisFilterBackend().get_schema_operation_parameters(view)]
    assert "year__gte" in names and "title__startswith" in names and "title" in names
    assert "summary" not in names
    assert RedisOrderingFilter().get_schema_operation_parameters(view)[0]["name"] == "ordering"


def test_the_backends_work_on_any_collection(limpyd_db):
    Note(text="a", rank=2)
    Note(text="b", rank=1)
    request = Request(APIRequestFactory().get("/", {"rank__gte": "0", "ordering": "-text"}))
    view = CursorNoteViewSet()
    collection = RedisFilterBackend().filter_queryset(request, Note.collection(), view)
    assert list(RedisOrderingFilter().filter_queryset(request, collection, view)) == ["2", "1"]


def test_the_view_default_may_be_several_fields(limpyd_db):
    for text, rank in [("b", 1), ("a", 2), ("c", 1)]:
        Note(text=text, rank=rank)
    request = Request(APIRequestFactory().get("/"))
    view = CursorNoteViewSet(ordering=["rank", "-text"])
    assert list(RedisOrderingFilter().filter_queryset(request, Note.collection(), view)) == [
        "3",
        "1",
        "2",
    ]
    asked = Request(APIRequestFactory().get("/", {"ordering": "-rank,text"}))
    assert list(RedisOrderingFilter().filter_queryset(asked, Note.collection(), view)) == [
        "2",
        "1",
        "3",
    ]


def test_detail_routes_are_not_sorted(limpyd_db):
    request = Request(APIRequestFactory().get("/", {"ordering": "-rank"}))
    detail, listing = CursorNoteViewSet(detail=True), CursorNoteViewSet(detail=False)
    assert not RedisOrderingFilter().filter_queryset(request, Note.collection(), detail).ordered
    assert RedisOrderingFilter().filter_queryset(request, Note.collection(), listing).ordered
