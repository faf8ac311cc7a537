"""Security of the pages: login and staff required, 403 on every change without
the change permission, CSRF on every mutation, escaping, 404s, read-only keys."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from django_limpyd.admin.views.keys import scan_pattern
from django_limpyd.client import READ_ONLY_COMMANDS
from django_limpyd.test.commands import count_commands
from tests import settings_admin

BOOK = "/admin/redis/library/book/"

#: every page, read with GET
PAGES = [
    "/admin/redis/",
    "/admin/redis/library/",
    BOOK,
    BOOK + "add/",
    BOOK + "1/",
    BOOK + "1/change/",
    BOOK + "1/delete/",
    "/admin/redis/-/keys/default/",
]

#: every change: (method, url, data)
CHANGES = [
    ("get", BOOK + "add/", {}),
    ("post", BOOK + "add/", {"title": "New", "isbn": "new"}),
    ("post", BOOK + "1/change/", {"title": "Changed"}),
    ("get", BOOK + "1/delete/", {}),
    ("post", BOOK + "1/delete/", {"post": "yes"}),
    ("post", BOOK, {"action": "delete_selected", "_selected_action": ["1", "2"]}),
    ("post", BOOK, {"action": "delete_selected", "_selected_action": ["1"], "post": "yes"}),
]


def unchanged(library):
    book = library.Book(1)
    assert book.title.hget() == "The Hobbit"
    assert library.Book.collection().count() == 6


# -- who may see -------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_go_to_the_admin_login(client, books, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize(("method", "url", "data"), CHANGES)
def test_anonymous_changes_go_to_login_and_change_nothing(
    client, books, library, method, url, data
):
    response = getattr(client, method)(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    unchanged(library)


def test_users_who_are_not_staff_go_to_the_login(db, django_user_model, books):
    user = django_user_model.objects.create_user("someone", password="x")
    client = Client()
    client.force_login(user)
    assert client.get("/admin/redis/")["Location"].startswith("/admin/login/")


def test_inactive_staff_is_refused(db, django_user_model, books):
    user = django_user_model.objects.create_user("gone", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    user.is_active = False
    user.save()
    assert client.get("/admin/redis/").status_code == 302


@pytest.mark.parametrize("url", PAGES[:3] + PAGES[5:6] + PAGES[7:])
def test_staff_may_view(staff_client, books, url):
    assert staff_client.get(url).status_code == 200


# -- who may change ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "data"), CHANGES)
def test_staff_without_permission_get_403_on_every_change(
    staff_client, books, library, method, url, data
):
    response = getattr(staff_client, method)(url, data)
    assert response.status_code == 403
    unchanged(library)


def test_staff_without_permission_see_a_read_only_instance_and_list(staff_client, books):
    page = staff_client.get(BOOK + "1/change/").content.decode()
    assert "<h1>View book</h1>" in page
    assert "<form" not in page.split('id="content-main"')[1]
    assert 'name="title"' not in page
    assert "deletelink" not in page
    listing = staff_client.get(BOOK).content.decode()
    assert "Select book to view" in listing
    assert "action-select" not in listing
    assert "addlink" not in listing.split('id="content-main"')[1]


@override_settings(LIMPYD_ADMIN_PERMISSION="tests.admin.checks.staff_may_change")
def test_the_permission_setting_names_another_check(staff_client, books, library):
    response = staff_client.post(
        BOOK + "1/change/",
        {
            "title": "By staff",
            "genre": "fantasy",
            "year": "1937",
            "isbn": "isbn-1",
            "author": "tolkien",
        },
    )
    assert response.status_code == 302
    assert library.Book(1).title.hget() == "By staff"


@override_settings(LIMPYD_ADMIN_PERMISSION="tests.admin.checks.nobody_may_change")
@pytest.mark.parametrize(("method", "url", "data"), CHANGES)
def test_the_permission_setting_can_refuse_superusers(
    superuser_client, books, library, method, url, data
):
    assert getattr(superuser_client, method)(url, data).status_code == 403
    unchanged(library)


@override_settings(LIMPYD_ADMIN_PERMISSION="tests.admin.checks.NOT_CALLABLE")
def test_a_permission_setting_that_is_not_callable_is_an_error(superuser_client, books):
    from django_limpyd.exceptions import ImplementationError

    with pytest.raises(ImplementationError, match="LIMPYD_ADMIN_PERMISSION"):
        superuser_client.post(BOOK + "1/delete/", {"post": "yes"})


# -- CSRF ----------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(superuser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    return client


def token_of(client, url):
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize(
    ("method", "url", "data"), [change for change in CHANGES if change[0] == "post"]
)
def test_every_mutation_needs_the_csrf_token(csrf_client, books, library, method, url, data):
    assert csrf_client.post(url, data).status_code == 403
    unchanged(library)


def test_mutations_work_with_the_csrf_token(csrf_client, books, library):
    token = token_of(csrf_client, BOOK + "2/delete/")
    response = csrf_client.post(BOOK + "2/delete/", {"post": "yes", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not library.Book.exists(2)
    token = token_of(csrf_client, BOOK + "add/")
    response = csrf_client.post(
        BOOK + "add/", {"title": "Added", "isbn": "added", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert library.Book.exists(title="Added")


def test_pages_are_csrf_protected_without_the_middleware(superuser, books, library):
    middleware = [m for m in settings_admin.MIDDLEWARE if "csrf" not in m.lower()]
    with override_settings(MIDDLEWARE=middleware):
        client = Client(enforce_csrf_checks=True)
        client.force_login(superuser)
        assert client.post(BOOK + "1/delete/", {"post": "yes"}).status_code == 403
    unchanged(library)


def test_get_never_changes_anything(superuser_client, books, library):
    superuser_client.get(BOOK + "1/delete/", {"post": "yes"})
    superuser_client.get(
        BOOK, {"action": "delete_selected", "_selected_action": "1", "post": "yes"}
    )
    superuser_client.get(BOOK + "1/change/", {"title": "Nope"})
    unchanged(library)


# -- escaping ------------------------------------------------------------------------------

XSS = '<script>alert("x")</script>'


def test_every_value_is_escaped(superuser_client, library):
    book = library.Book(title=XSS, genre=XSS, year="1", isbn=XSS, summary=XSS, author=XSS)
    book.tags.sadd(XSS)
    book.chapters.rpush(XSS)
    book.ratings.zadd({XSS: 1})
    book.details.hset(mapping={XSS: XSS})
    library.Author(pk=XSS, name=XSS)
    library.Shelf(code=XSS)
    pages = [
        BOOK,
        BOOK + "?genre=" + XSS,
        BOOK + f"?_q={XSS}",
        BOOK + f"?year__gt={XSS}",
        BOOK + "1/change/",
        BOOK + "1/delete/",
        "/admin/redis/library/author/",
        "/admin/redis/-/keys/default/",
        "/admin/redis/-/keys/other/",
        "/admin/redis/-/keys/default/?q=" + XSS,
    ]
    from django.contrib.admin.utils import quote

    pages.append(f"/admin/redis/library/author/{quote(XSS)}/change/")
    pages.append(f"/admin/redis/library/author/{quote(XSS)}/delete/")
    response = superuser_client.post(BOOK, {"action": "delete_selected", "_selected_action": ["1"]})
    bodies = [response.content.decode()]
    for url in pages:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content.decode())
    for url, body in zip(["action", *pages], bodies, strict=True):
        assert "<script>alert" not in body, url
    assert any("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body for body in bodies)


def test_an_invalid_value_of_a_form_is_escaped(superuser_client, books):
    response = superuser_client.post(BOOK + "1/change/", {"title": "Dune", "year": XSS})
    body = response.content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;" in body


# -- not found -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/redis/nope/",
        "/admin/redis/library/nope/",
        "/admin/redis/nope/book/",
        "/admin/redis/library/Book/",
        "/admin/redis/library/book/999/change/",
        "/admin/redis/library/book/999/delete/",
        "/admin/redis/library/book/999/",
        "/admin/redis/library/nope/1/change/",
        "/admin/redis/library/author/nobody/change/",
        "/admin/redis/-/keys/nope/",
    ],
)
def test_unknown_models_pks_and_databases_are_404(superuser_client, books, url):
    assert superuser_client.get(url).status_code == 404


def test_posts_to_unknown_pks_are_404(superuser_client, books):
    assert superuser_client.post(BOOK + "999/change/", {"title": "x"}).status_code == 404
    assert superuser_client.post(BOOK + "999/delete/", {"post": "yes"}).status_code == 404


# -- the key browser only reads -------------------------------------------------------------


def test_the_key_browser_answers_get_only(superuser_client, books):
    assert superuser_client.post("/admin/redis/-/keys/default/", {"q": "x"}).status_code == 405


@pytest.mark.parametrize(
    "text",
    [
        "*",
        "FLUSHALL",
        "*\r\nFLUSHALL\r\n",
        '" ; DEL {library:Book}:pks',
        "[a-z]*",
        "\\",
        "x" * 600,
    ],
)
def test_a_typed_pattern_only_reads(superuser_client, books, library, text):
    with count_commands() as recorder:
        for mode in ("prefix", "contains"):
            response = superuser_client.get(
                "/admin/redis/-/keys/default/", {"q": text, "match": mode, "count": "1000"}
            )
            assert response.status_code == 200
    names = {str(command[0]).split()[0].upper() for command in recorder.commands}
    assert names <= READ_ONLY_COMMANDS | {"MEMORY"}, names
    assert "KEYS" not in names
    patterns = {command[3] for command in recorder.commands if command[0] == "SCAN"}
    assert patterns == {scan_pattern(text[:512], "prefix"), scan_pattern(text[:512], "contains")}
    for pattern in patterns:  # every glob character of the text is escaped
        assert "".join(re.split(r"\\.", pattern.strip("*"))).count("*") == 0
    unchanged(library)
    assert library.Book.collection().count() == 6


@override_settings(LIMPYD_ADMIN_PERMISSION="tests.admin.checks.nope")
def test_a_permission_setting_that_cannot_be_imported_is_an_error(superuser_client, books):
    from django_limpyd.exceptions import ImplementationError

    with pytest.raises(ImplementationError, match="LIMPYD_ADMIN_PERMISSION: .*nope"):
        superuser_client.post(BOOK + "1/delete/", {"post": "yes"})
