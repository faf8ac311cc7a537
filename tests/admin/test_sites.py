"""The site and the model admins: registration, defaults, options checked by name,
URLs of another site, and the link from the Django admin's index."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin as django_admin
from django.test import RequestFactory, override_settings

from django_limpyd import admin
from django_limpyd.admin import RedisAdminSite, RedisModelAdmin
from django_limpyd.admin_checks import check_site
from django_limpyd.exceptions import ImplementationError
from tests.apps.shop.redis_models import Foo, Person


def test_the_public_names():
    assert admin.__all__ == [
        "AlreadyRegistered",
        "NotRegistered",
        "RedisAdminSite",
        "RedisModelAdmin",
        "display",
        "register",
        "site",
    ]


def test_the_admin_module_of_an_app_registers_on_the_default_site(library):
    from tests.admin.library.admin import BookAdmin

    model_admin = admin.site.get_model_admin(library.Book)
    assert type(model_admin) is BookAdmin
    assert admin.site.is_registered(library.Book)


def test_models_nobody_registered_get_the_defaults():
    model_admin = admin.site.get_model_admin(Person)
    assert type(model_admin) is RedisModelAdmin
    assert admin.site.get_model_admin(Person) is model_admin
    assert model_admin.get_list_display() == ["pk", "name", "city"]
    assert model_admin.get_ordering() == ("pk", False)
    assert model_admin.get_list_filter() == ["name", "city"]
    assert model_admin.get_search_fields() == []
    assert model_admin.get_form_fields() == ["name", "city"]
    assert model_admin.get_label_field() == "name"
    assert model_admin.object_label("1", {"name": "Ann"}) == "Ann"
    assert model_admin.object_label("1", {}) == "person 1"
    assert repr(model_admin) == "<RedisModelAdmin of shop.Person>"


def test_register_unregister_and_the_decorator():
    site = RedisAdminSite(name="other")
    site.register(Foo)
    assert site.is_registered(Foo)
    with pytest.raises(admin.AlreadyRegistered, match="shop.Foo is already registered"):
        site.register(Foo)
    site.unregister(Foo)
    with pytest.raises(admin.NotRegistered):
        site.unregister(Foo)

    @admin.register(Foo, site=site)
    class FooAdmin(RedisModelAdmin):
        list_per_page = 3

    assert type(site.get_model_admin(Foo)) is FooAdmin
    site.unregister(Foo)

    class OtherAdmin(RedisModelAdmin):
        pass

    assert admin.register(Foo, OtherAdmin, site=site) is OtherAdmin
    site.unregister([Foo])
    assert admin.register(Foo, admin_class=OtherAdmin, site=site) is OtherAdmin
    with pytest.raises(ImplementationError, match="not a RedisModelAdmin"):
        site.register(Person, object)
    with pytest.raises(ImplementationError, match="not a concrete Redis model"):
        site.register(int)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"list_display": ("nope",)}, "neither a field of Person nor a method"),
        ({"list_filter": ("nope",)}, "Person has no field 'nope'"),
        ({"fields": ("nope",)}, "Person has no field 'nope'"),
        ({"ordering": "-nope"}, "cannot be sorted by 'nope'"),
        ({"search_fields": ("city",)}, "no index of Person.city handles startswith"),
        ({"list_dislay": ("name",)}, "list_dislay is not an option"),
        ({"label_field": "nope"}, "Person has no field 'nope'"),
    ],
)
def test_options_are_checked_by_a_system_check(options, message):
    admin_class = type("PersonAdmin", (RedisModelAdmin,), options)
    site = RedisAdminSite()
    site.register(Person, admin_class)  # never raises at import: limpyd.E009 reports it
    (error,) = check_site(site)
    assert error.id == "limpyd.E009" and re.search(message, error.msg)


def test_multi_value_fields_are_refused_where_one_value_is_needed(library):
    for option in (
        {"list_display": ("tags",)},
        {"ordering": "tags"},
        {"label_field": "tags"},
    ):
        admin_class = type("BookAdmin", (RedisModelAdmin,), option)
        site = RedisAdminSite()
        site.register(library.Book, admin_class)
        (error,) = check_site(site)
        assert re.search("holds several values|cannot be sorted", error.msg)
    admin_class = type("BookAdmin", (RedisModelAdmin,), {"list_filter": ("summary",)})
    site = RedisAdminSite()
    site.register(library.Book, admin_class)
    assert "Book.summary is not indexed" in check_site(site)[0].msg


def test_sorting_as_numbers(library):
    model_admin = RedisAdminSite().get_model_admin(library.Book)
    assert model_admin.sorts_as_numbers("pk")  # AutoPKField
    assert model_admin.sorts_as_numbers("year")  # NumberRangeIndex
    assert not model_admin.sorts_as_numbers("title")
    assert not RedisAdminSite().get_model_admin(library.Author).sorts_as_numbers("pk")


def test_the_app_list_sends_no_command(superuser, library):
    from django_limpyd.test.commands import count_commands

    request = RequestFactory().get("/")
    request.user = superuser
    with count_commands() as recorder:
        apps = admin.site.app_list(request)
    assert recorder.num_commands == 0
    library_app = next(app for app in apps if app["app_label"] == "library")
    assert library_app["name"] == "Library (Redis)"
    assert [m["name"] for m in library_app["models"]] == ["Authors", "Books", "Shelfs"]
    assert library_app["models"][1]["admin_url"] == "/admin/redis/library/book/"
    assert library_app["models"][1]["add_url"] == "/admin/redis/library/book/add/"


# -- URLs ----------------------------------------------------------------------------------


@override_settings(ROOT_URLCONF="tests.admin.other_urls")
def test_a_site_of_its_own(superuser_client, books):
    response = superuser_client.get("/redis/library/book/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/redis/library/book/1/change/"' in body  # links stay on this site
    assert superuser_client.get("/admin/redis/library/book/").status_code == 200


@override_settings(ROOT_URLCONF="tests.admin.urls")
def test_urls_of_the_default_site():
    assert admin.site.reverse("index") == "/admin/redis/"
    assert admin.site.reverse("keys", "default") == "/admin/redis/-/keys/default/"
    assert admin.site.reverse("change", "library", "book", "1") == (
        "/admin/redis/library/book/1/change/"
    )


@override_settings(ROOT_URLCONF="tests.admin.urls_without_redis")
def test_urls_when_the_pages_are_not_included(superuser_client, index_template):
    assert admin.site.reverse("index") is None
    body = superuser_client.get("/admin/").content.decode()
    assert "limpyd-admin-link" not in body


# -- the Django admin's index --------------------------------------------------------------


@pytest.fixture
def index_template():
    previous = django_admin.site.index_template
    django_admin.site.index_template = "django_limpyd/admin/index.html"
    yield
    django_admin.site.index_template = previous


def test_the_django_admin_index_links_to_the_redis_pages(superuser_client, index_template):
    body = superuser_client.get("/admin/").content.decode()
    assert 'id="limpyd-admin-link"' in body
    assert '<a href="/admin/redis/" class="section"' in body
    assert 'href="/admin/redis/library/book/"' in body
    assert "Library (Redis)" in body
    assert "Authentication and Authorization" in body  # the SQL apps are still there


def test_the_django_admin_index_is_unchanged_without_the_opt_in(superuser_client):
    body = superuser_client.get("/admin/").content.decode()
    assert "limpyd-admin-link" not in body


def test_browser_tests_say_why_they_skip(monkeypatch):
    from tests.admin import test_browser

    monkeypatch.setenv("PATH", "/nonexistent")
    reason = test_browser.find_browser()
    assert reason == (
        "no Chromium and chromedriver on PATH (Debian: apt-get install -y chromium chromium-driver)"
    )
