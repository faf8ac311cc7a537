"""The list page: columns, counts, filters by every suffix, search, sort, pages, and
the delete action."""

from __future__ import annotations

import re

import pytest

from django_limpyd.test.commands import count_commands

BOOK = "/admin/redis/library/book/"


def titles(response):
    return re.findall(r'<td class="field-title">\s*(.*?)\s*</td>', response.content.decode())


def column(response, name):
    cells = re.findall(
        rf'<t[hd] class="field-{name}">\s*(?:<a href="[^"]*">)?(.*?)(?:</a>)?\s*</t[hd]>',
        response.content.decode(),
    )
    return cells


def count_text(response):
    return re.search(r'id="limpyd-result-count">([^<]*)<', response.content.decode()).group(1)


# -- columns and counts ------------------------------------------------------------------


def test_registered_admin_columns_and_callable(superuser_client, books):
    response = superuser_client.get(BOOK)
    body = response.content.decode()
    for title in ("Pk", "Title", "Genre", "Year", "Author", "Title length"):
        assert f">{title}</" in body
    assert titles(response) == ["Beloved", "Dune", "Emma", "Foundation", "Neuromancer"]
    assert column(response, "title_length") == ["7", "4", "4", "10", "11"]
    assert 'href="/admin/redis/library/book/6/change/">6</a>' in body  # pk links


def test_default_columns_are_the_pk_and_single_value_fields(superuser_client, library):
    library.Author(pk="tolkien", name="Tolkien")
    body = superuser_client.get("/admin/redis/library/author/").content.decode()
    assert re.findall(r'class="column-(\w+)', body) == ["pk", "name"]
    assert 'href="/admin/redis/library/author/tolkien/change/">tolkien</a>' in body


def test_related_columns_link_to_the_target(superuser_client, books):
    body = superuser_client.get(BOOK + "?_o=-pk").content.decode()
    assert '<a href="/admin/redis/library/author/tolkien/change/">tolkien</a>' not in body
    body += superuser_client.get(BOOK + "?_o=pk").content.decode()
    assert '<a href="/admin/redis/library/author/tolkien/change/">tolkien</a>' in body
    assert '/admin/redis/library/author/a_2Fb_3Fc_23d/change/">a/b?c#d</a>' in body


def test_counts_are_grouped(superuser_client):
    from tests.apps.shop.redis_models import Foo

    Foo.bulk_create({"value": "even" if i % 2 else "odd"} for i in range(1001))
    response = superuser_client.get("/admin/redis/shop/foo/")
    assert count_text(response) == "1,001 foos"
    assert (
        count_text(superuser_client.get("/admin/redis/shop/foo/?value=even")) == "500 of 1,001 foos"
    )
    assert (
        count_text(superuser_client.get("/admin/redis/shop/foo/?value=none")) == "0 of 1,001 foos"
    )


def test_an_empty_list(superuser_client):
    body = superuser_client.get(BOOK).content.decode()
    assert "No book yet." in body
    assert "0 books" in body


def test_a_page_is_read_in_one_round_trip(superuser_client):
    from tests.apps.crm.redis_models import Person

    for i in range(30):
        Person(email=f"p{i}@example.com", visits=str(i))
    superuser_client.get("/admin/redis/crm/person/")  # scripts loaded
    with count_commands() as recorder:
        response = superuser_client.get("/admin/redis/crm/person/?_o=-visits")
    assert response.status_code == 200
    # count_and_slice(): the count and the page with its values, no round trip per row
    assert recorder.num_round_trips == 1, recorder.describe()
    # a page past the last one: a 404, after the one read that found it empty
    with count_commands() as recorder:
        response = superuser_client.get("/admin/redis/crm/person/?_p=2")
    assert response.status_code == 404
    assert recorder.num_round_trips == 1, recorder.describe()


GENRES, TAGS = ("sf", "classic", "fantasy"), ("old", "new")


def add_books(library, start, stop):
    books = library.Book.bulk_create(
        {
            "title": f"Book {i:05}",
            "genre": GENRES[i % 3],
            "year": str(1900 + i % 100),
            "isbn": f"isbn-{i}",
        }
        for i in range(start, stop)
    )
    for i, book in enumerate(books[:10]):
        book.tags.sadd(TAGS[i % 2])


PAGES = {
    "first page": lambda n: "",
    "last page": lambda n: f"?_p={n // 5}",
    "sorted by a number index": lambda n: "?_o=-year",
    "sorted by a text index, a middle page": lambda n: f"?_o=title&_p={n // 10}",
    "filtered by equality": lambda n: "?genre=sf",
    "filtered by a range, sorted, last page": lambda n: f"?year__gte=1950&_o=year&_p={n // 10}",
    "filtered by two indexes": lambda n: "?genre=sf&year__lt=1950&_o=-title",
    "searched": lambda n: "?_q=Book+001",
}


def commands_of_pages(client, n):
    """``{page: (command names, round trips)}`` of each page of ``PAGES``."""
    result = {}
    for name, url in PAGES.items():
        client.get(BOOK + url(n))  # scripts loaded
        with count_commands() as recorder:
            response = client.get(BOOK + url(n))
        assert len(titles(response)) == 5, name  # every page is a full one
        result[name] = ([command[0] for command in recorder.commands], recorder.num_round_trips)
    return result


@pytest.mark.parametrize("choices_scan_max_keys", [100_000, 10])
def test_a_page_costs_the_same_commands_at_any_size(
    superuser_client, library, monkeypatch, choices_scan_max_keys
):
    """The commands of a list page do not grow with the instances: the same at 200
    and at 2,000 books, first or last page, sorted, filtered (equality choices read
    from the index keys, or not: the database is too big to scan for them)."""
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "filter_choices_scan_max_keys", choices_scan_max_keys)
    add_books(library, 0, 200)
    small = commands_of_pages(superuser_client, 200)
    add_books(library, 200, 2000)
    big = commands_of_pages(superuser_client, 2000)
    assert big == small
    first, round_trips = small["first page"]
    call = "FCALL_RO" if "FCALL_RO" in first else "EVALSHA"  # Redis 7, or 6.2
    if choices_scan_max_keys == 100_000:
        # DBSIZE; one SCAN per field with choices (genre, tags, details); the SCARD of
        # each choice (3 genres, 2 tags); the page
        assert first == ["DBSIZE"] + ["SCAN"] * 3 + ["SCARD"] * 5 + [call]
        assert round_trips == 4
    else:
        assert first == ["DBSIZE", call]
        assert round_trips == 2
    # a filtered page also counts the model's instances
    assert small["filtered by equality"][0][-2:] == [call, call]


# -- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("genre=sf", ["Dune", "Foundation", "Neuromancer"]),  # EqualIndex: eq
        ("genre__in=sf%0Aclassic", ["Beloved", "Dune", "Emma", "Foundation", "Neuromancer"]),
        ("genre__in=fantasy&genre__in=classic", ["Beloved", "Emma", "The Hobbit"]),
        ("title=Dune", ["Dune"]),  # eq of the EqualIndex, before the TextRangeIndex
        ("title__in=Dune%0AEmma", ["Dune", "Emma"]),
        ("title__gt=Foundation", ["Neuromancer", "The Hobbit"]),  # TextRangeIndex
        ("title__gte=Foundation", ["Foundation", "Neuromancer", "The Hobbit"]),
        ("title__lt=Dune", ["Beloved"]),
        ("title__lte=Dune", ["Beloved", "Dune"]),
        ("year=1965", ["Dune"]),  # NumberRangeIndex
        ("year__in=1965%0A1815", ["Emma", "Dune"]),
        ("year__gt=1951", ["Dune", "Neuromancer", "Beloved"]),
        ("year__gte=1951", ["Foundation", "Dune", "Neuromancer", "Beloved"]),
        ("year__lt=1937", ["Emma"]),
        ("year__lte=1937", ["Emma", "The Hobbit"]),
        ("year__gte=1900&year__lt=1960&genre=sf", ["Foundation"]),
        ("_q=The", ["The Hobbit"]),  # the search box: title__startswith
        ("_q=D&_qf=title", ["Dune"]),
        ("tags=dragons", ["The Hobbit"]),  # a SetField's EqualIndex
        ("details=cover%3Dgreen", ["The Hobbit"]),  # a HashField: key=value
        ("isbn=isbn-3", ["Emma"]),  # a unique StringField
    ],
)
def test_filters_by_every_suffix(superuser_client, books, query, expected):
    sort = "_o=year&" if "year" in query else ""
    response = superuser_client.get(f"{BOOK}?{sort}{query}")
    assert response.status_code == 200
    assert titles(response) == expected
    assert "errornote" not in response.content.decode()


def test_a_prefixed_text_index(superuser_client, library):
    for code in ("A-1", "A-2", "B-1"):
        library.Shelf(code=code)
    response = superuser_client.get("/admin/redis/library/shelf/?_q=A-")  # the search box
    assert column(response, "code") == ["A-1", "A-2"]
    body = response.content.decode()
    assert 'name="code__lex__gt"' in body
    # no duplicate: equality is the EqualIndex's, the prefixed index adds its comparisons
    params = re.findall(r'(?:name|data-param)="(code\w*)"', body)
    assert sorted(params) == sorted(
        ["code", "code__in", "code__lex__gt", "code__lex__gte", "code__lex__lt", "code__lex__lte"]
    )
    assert column(superuser_client.get("/admin/redis/library/shelf/?code__lex__gte=B"), "code") == [
        "B-1"
    ]


def test_the_sidebar_offers_every_suffix(superuser_client, books):
    body = superuser_client.get(BOOK).content.decode()
    params = set(re.findall(r'name="(\w+)"', body)) | set(re.findall(r'data-param="(\w+)"', body))
    assert {
        "title",
        "title__in",
        "title__gt",
        "title__gte",
        "title__lt",
        "title__lte",
        "genre",
        "genre__in",
        "year",
        "year__in",
        "year__gt",
        "year__gte",
        "year__lt",
        "year__lte",
        "isbn",
        "isbn__in",
        "tags",
        "tags__in",
        "details",
    } <= params
    assert "title__startswith" not in params  # the search box does it
    assert 'name="_q"' in body


def test_equality_choices_with_counts(superuser_client, books):
    body = superuser_client.get(BOOK + "?genre=sf").content.decode()
    choices = re.search(r'data-param="genre">(.*?)</ul>', body, re.S).group(1)
    assert re.findall(r">(\w+) <span class=\"quiet\">\((\d)\)", choices) == [
        ("classic", "2"),
        ("fantasy", "1"),
        ("sf", "3"),
    ]
    assert '<li class="selected"><a href="?genre=sf">sf' in choices
    # unique fields have no choices: each value is held once
    assert 'data-param="title"' not in body
    assert 'data-param="isbn"' not in body


def test_choices_are_not_scanned_on_a_big_database(superuser_client, books, monkeypatch):
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "filter_choices_scan_max_keys", 10)
    body = superuser_client.get(BOOK).content.decode()
    assert 'data-param="genre"' not in body
    assert 'name="genre"' in body  # an input instead


def test_choices_given_by_the_admin(superuser_client, books, monkeypatch):
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "list_filter_choices", {"genre": ["sf", "poetry"]})
    body = superuser_client.get(BOOK).content.decode()
    choices = re.search(r'data-param="genre">(.*?)</ul>', body, re.S).group(1)
    assert re.findall(r'href="\?genre=(\w+)"', choices) == ["poetry", "sf"]


def test_bad_filter_values_are_reported_and_ignored(superuser_client, books):
    response = superuser_client.get(BOOK + "?year__gt=abc&genre=sf&details=nokey")
    body = response.content.decode()
    assert "These filters were ignored" in body
    assert "year__gt" in body and "needs a number" in body
    assert "details: write an entry as key=value." in body
    assert titles(response) == ["Dune", "Foundation", "Neuromancer"]


def test_unknown_parameters_are_ignored(superuser_client, books):
    response = superuser_client.get(BOOK + "?summary=x&nope=1&title__regex=.*")
    assert count_text(response) == "6 books"


def test_clear_all_filters_keeps_the_sort(superuser_client, books):
    body = superuser_client.get(BOOK + "?genre=sf&_o=-year").content.decode()
    assert 'href="?_o=-year">&#10006; Clear all filters' in body


# -- sort and pages ------------------------------------------------------------------------


def test_sorting(superuser_client, books):
    assert column(superuser_client.get(BOOK + "?_o=year"), "year") == [
        "1815",
        "1937",
        "1951",
        "1965",
        "1984",
    ]
    assert column(superuser_client.get(BOOK + "?_o=-year"), "year") == [
        "1987",
        "1984",
        "1965",
        "1951",
        "1937",
    ]
    assert column(superuser_client.get(BOOK + "?_o=-pk"), "pk") == ["6", "5", "4", "3", "2"]
    assert titles(superuser_client.get(BOOK + "?_o=-title"))[0] == "The Hobbit"
    # by a column that is not sortable, or nothing: the admin's ordering
    assert titles(superuser_client.get(BOOK + "?_o=tags"))[0] == "Beloved"


def test_sort_links_toggle(superuser_client, books):
    body = superuser_client.get(BOOK + "?genre=sf&_o=year").content.decode()
    assert 'class="column-year sortable sorted ascending"' in body
    assert 'href="?genre=sf&amp;_o=-year"' in body
    assert 'href="?genre=sf&amp;_o=title"' in body


def test_numbers_that_are_not_numbers_sort_as_text(superuser_client, library):
    library.Book(title="A", year="1900")
    library.Book(title="B", year="unknown")
    response = superuser_client.get(BOOK + "?_o=year")
    assert response.status_code == 200
    assert sorted(titles(response)) == ["A", "B"]


def test_pages(superuser_client, books):
    first = superuser_client.get(BOOK + "?_o=pk")
    assert column(first, "pk") == ["1", "2", "3", "4", "5"]
    body = first.content.decode()
    assert '<span class="this-page" aria-current="page">1</span>' in body
    assert 'href="?_o=pk&amp;_p=2"' in body
    second = superuser_client.get(BOOK + "?_o=pk&_p=2")
    assert column(second, "pk") == ["6"]
    # as Django: not a page number (x, 0, -1): the first page; past the end: a 404
    assert column(superuser_client.get(BOOK + "?_o=pk&_p=x"), "pk")[0] == "1"
    assert column(superuser_client.get(BOOK + "?_o=pk&_p=0"), "pk")[0] == "1"
    assert column(superuser_client.get(BOOK + "?_o=pk&_p=-1"), "pk")[0] == "1"
    for past in ("3", "99", "999999999", str(2**64)):
        response = superuser_client.get(BOOK + f"?_o=pk&_p={past}")
        assert response.status_code == 404, past
    assert superuser_client.get(BOOK + "?genre=poetry&_p=1").status_code == 200  # empty
    # filters and pages: a filter link starts again at the first page
    body = superuser_client.get(BOOK + "?_p=2").content.decode()
    assert 'href="?genre=sf"' in body


# -- the delete action ------------------------------------------------------------------


def test_delete_action_asks_then_deletes(superuser_client, books, library):
    data = {"action": "delete_selected", "_selected_action": ["2", "3", "999"]}
    response = superuser_client.post(BOOK, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Are you sure you want to delete the selected books?" in body
    assert re.findall(r'<li>Book: <a href="[^"]+">([^<]+)</a>', body) == ["Dune", "Emma"]
    assert '<code class="limpyd-key">{library:Book}:h:2</code>' in body
    assert "{library:Book}:f:isbn:3" in body
    assert library.Book.collection().count() == 6  # nothing yet
    response = superuser_client.post(BOOK + "?genre=sf", {**data, "post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == BOOK + "?genre=sf"
    assert sorted(library.Book.collection()) == ["1", "4", "5", "6"]
    assert not library.Book.exists(title="Dune")  # index entries went too
    body = superuser_client.get(response["Location"]).content.decode()
    assert "Successfully deleted 2 books." in body


def test_delete_action_without_selection_or_action(superuser_client, books, library):
    response = superuser_client.post(BOOK, {"action": "delete_selected"}, follow=True)
    assert "Items must be selected" in response.content.decode()
    response = superuser_client.post(BOOK, {"_selected_action": ["1"]}, follow=True)
    assert "No action selected." in response.content.decode()
    assert library.Book.collection().count() == 6


def test_deleting_only_missing_pks_says_nothing_was_deleted(superuser_client, books, library):
    data = {"action": "delete_selected", "_selected_action": ["998", "999"], "post": "yes"}
    body = superuser_client.post(BOOK, data, follow=True).content.decode()
    assert "Successfully deleted" not in body
    assert "Nothing was deleted: no book with pk “998”, “999” exists." in body
    assert library.Book.collection().count() == 6


def test_deleting_some_missing_pks_says_which(superuser_client, books, library):
    data = {"action": "delete_selected", "_selected_action": ["2", "999"], "post": "yes"}
    body = superuser_client.post(BOOK, data, follow=True).content.decode()
    assert "Successfully deleted 1 book." in body
    assert "1 selected book did not exist any more: “999”." in body


# -- the action bar ------------------------------------------------------------------------


def test_the_action_bar_counts_the_selection(superuser_client, books):
    body = superuser_client.get(BOOK).content.decode()
    assert '<span class="action-counter" data-actions-icnt="5">0 of 5 selected</span>' in body
    assert "Select all 6 books" in body  # more books than the page
    assert '<span class="all hidden">All 6 selected</span>' in body
    assert 'name="select_across" value="0" class="select-across"' in body
    assert "admin/js/actions.js" in body
    # one page holds the whole list: no "Select all"
    body = superuser_client.get(BOOK + "?genre=sf").content.decode()
    assert "0 of 3 selected" in body
    assert "Select all 3" not in body


def test_select_across_deletes_the_whole_filtered_list(superuser_client, books, library):
    data = {"action": "delete_selected", "select_across": "1", "_selected_action": ["2"]}
    page = superuser_client.post(BOOK + "?genre=sf", data)
    body = page.content.decode()
    assert re.findall(r'<li>Book: <a href="[^"]+">([^<]+)</a>', body) == [
        "Dune",
        "Foundation",
        "Neuromancer",
    ]
    assert 'name="select_across" value="1"' in body
    response = superuser_client.post(BOOK + "?genre=sf", {**data, "post": "yes"}, follow=True)
    assert "Successfully deleted 3 books." in response.content.decode()
    assert sorted(library.Book.collection()) == ["1", "3", "6"]
