"""Django's admin log for Redis instances: written on add, change and delete (the
pages and the delete action), listed by the History page of an instance and by
the Django admin's "Recent actions"."""

from __future__ import annotations

import json
import re

import pytest

from django_limpyd.admin import history

# django.contrib.admin is installed for this package only (conftest): its models are
# imported in the tests
ADDITION, CHANGE, DELETION = 1, 2, 3

BOOK = "/admin/redis/library/book/"


def log_entries():
    from django.contrib.admin.models import LogEntry

    return LogEntry.objects.all()


def entries():
    from django.contrib.admin.models import LogEntry

    return list(
        LogEntry.objects.filter(content_type=None)
        .order_by("pk")
        .values_list("object_id", "object_repr", "action_flag", "change_message")
    )


def test_the_object_id_names_model_and_pk(library):
    assert history.object_id(library.Author, "a:b/c") == "redis:library.author:a:b/c"
    assert history.parse("redis:library.author:a:b/c") == ("library", "author", "a:b/c")
    assert history.parse("12") is None
    assert history.parse("redis:nodot:1") is None


def test_add_change_delete_are_logged(superuser_client, superuser, library):
    superuser_client.post(BOOK + "add/", {"title": "Solaris", "year": "1961"})
    pk = library.Book.get(title="Solaris").pk.get()
    superuser_client.post(
        f"{BOOK}{pk}/change/", {"title": "Solaris", "year": "1962", "tags": ["pl"]}
    )
    superuser_client.post(f"{BOOK}{pk}/delete/", {"post": "yes"})
    oid = f"redis:library.book:{pk}"
    assert entries() == [
        (oid, "Solaris (book, Redis)", ADDITION, json.dumps([{"added": {}}])),
        (
            oid,
            "Solaris (book, Redis)",
            CHANGE,
            json.dumps([{"changed": {"fields": ["year", "tags"]}}]),
        ),
        (oid, "Solaris (book, Redis)", DELETION, ""),
    ]
    assert {entry.user_id for entry in log_entries()} == {superuser.pk}


def test_the_delete_action_logs_each_instance(superuser_client, books):
    data = {"action": "delete_selected", "_selected_action": ["2", "3", "999"], "post": "yes"}
    superuser_client.post(BOOK, data)
    assert [(oid, flag) for oid, _repr, flag, _message in entries()] == [
        ("redis:library.book:2", DELETION),
        ("redis:library.book:3", DELETION),
    ]


def test_nothing_logged_when_nothing_changes(superuser_client, books):
    """A form that fails validation writes no entry."""
    superuser_client.post(BOOK + "1/change/", {"title": "Dune"})  # taken
    assert entries() == []


def test_the_history_page(superuser_client, books):
    change = BOOK + "1/change/"
    page = superuser_client.get(change).content.decode()
    assert f'<a href="{BOOK}1/history/" class="historylink">History</a>' in page
    empty = superuser_client.get(BOOK + "1/history/").content.decode()
    assert "have a change history" in empty
    superuser_client.post(
        change,
        {
            "title": "The Hobbit",
            "genre": "fantasy",
            "year": "1938",
            "isbn": "isbn-1",
            "author": "tolkien",
            "summary": "There and back again.",
        },
    )
    response = superuser_client.get(BOOK + "1/history/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Change history: The Hobbit</h1>" in body
    table = re.search(r'<div id="change-history".*?</table>', body, re.S).group(0)
    cells = re.findall(r"<td>(.*?)</td>", table, re.S)
    assert cells == ["root", "Changed year."]
    assert f'<a href="{BOOK}1/change/">The Hobbit</a> &rsaquo; History' in body


def test_history_of_a_deleted_instance_and_of_nothing(superuser_client, books):
    superuser_client.post(BOOK + "2/delete/", {"post": "yes"})
    body = superuser_client.get(BOOK + "2/history/").content.decode()
    assert "Deleted." in body
    assert superuser_client.get(BOOK + "999/history/").status_code == 404


def test_staff_may_read_the_history(staff_client, books):
    assert staff_client.get(BOOK + "1/history/").status_code == 200


def test_recent_actions_of_the_admin_index(superuser_client, books):
    superuser_client.post(BOOK + "1/delete/", {"post": "yes"})
    body = superuser_client.get("/admin/").content.decode()
    assert "The Hobbit (book, Redis)" in body  # the Django admin's own index


@pytest.fixture
def index_template():
    from django.contrib import admin as django_admin

    previous = django_admin.site.index_template
    django_admin.site.index_template = "django_limpyd/admin/index.html"
    yield
    django_admin.site.index_template = previous


def test_recent_actions_link_to_the_redis_pages(superuser_client, books, index_template):
    """With the opt-in index template, entries of Redis instances link to their page
    and name their model."""
    superuser_client.post(
        BOOK + "2/change/", {"title": "Dune!", "genre": "sf", "year": "1965", "isbn": "isbn-2"}
    )
    superuser_client.post(BOOK + "3/delete/", {"post": "yes"})
    body = superuser_client.get("/admin/").content.decode()
    actions = re.search(r'<ul class="actionlist">(.*?)</ul>', body, re.S).group(1)
    assert re.search(
        r'<a href="/admin/redis/library/book/2/change/">Dune! \(book, Redis\)</a>', actions
    )
    assert re.search(r"Emma \(book, Redis\)\s*<br>", actions)  # deleted: no link
    assert actions.count('<span class="mini quiet">Book (Redis)</span>') == 2


@pytest.mark.parametrize("installed", [False])
def test_nothing_is_written_without_the_admin_app(installed, superuser, library, rf, monkeypatch):
    from django.apps import apps

    monkeypatch.setattr(apps, "is_installed", lambda name: installed)
    request = rf.post("/")
    request.user = superuser
    model_admin = __import__("django_limpyd.admin", fromlist=["site"]).site.get_model_admin(
        library.Book
    )
    history.log_addition(request, model_admin, "1", "x")
    assert entries() == []
