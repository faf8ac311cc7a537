"""The blog app (``Post.objects``, Paginator, shortcuts, RedisModelForm, templates)
through Django's test client, and a ``limpyd_fixtures`` test case."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_limpyd.consistency import consistency_check
from django_limpyd.test import TestCase
from tests.apps.blog.redis_models import Post

TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
blog_settings = override_settings(ROOT_URLCONF="tests.apps.blog.urls", TEMPLATES=TEMPLATES)


@pytest.fixture
def client():
    with blog_settings:
        yield Client()


@pytest.fixture
def posts():
    """Five posts: three published, one archived, one draft (the newest)."""
    return {
        title: Post(title=title, status=status, year=year, tags=tags)
        for title, status, year, tags in [
            ("Old news", "published", "1999", ["old"]),
            ("Redis & Django", "published", "2020", ["redis", "django"]),
            ("Sets", "archived", "2015", ["redis"]),
            ("Unfinished", "draft", "2024", []),
            ("Newest", "published", "2023", ["news"]),
        ]
    }


def listed(response):
    """The titles of a list page, in their order."""
    assert response.status_code == 200
    items = response.content.decode().split('<ul id="posts">')[1].split("</ul>")[0]
    return [line.split(">", 1)[1].split(" (")[0] for line in items.split("\n") if "<li" in line]


def test_list_excludes_drafts_orders_by_year_and_paginates(client, posts):
    first = client.get("/")
    assert listed(first) == ["Newest", "Redis &amp; Django"]  # 2023, 2020; the 2024 draft excluded
    assert "page 1 of 2, 4 posts" in first.content.decode()
    second = client.get("/?page=2")
    assert listed(second) == ["Sets", "Old news"]  # 2015, 1999
    assert "page 2 of 2" in second.content.decode()


def test_list_filters_on_status(client, posts):
    assert listed(client.get("/?status=archived")) == ["Sets"]
    assert listed(client.get("/?status=published")) == ["Newest", "Redis &amp; Django"]
    assert listed(client.get("/?status=published&page=2")) == ["Old news"]
    assert listed(client.get("/?status=draft")) == []  # excluded, whatever the filter


def test_list_filters_with_q_objects(client, posts):
    Post(title="Also 2020", status="published", year="2020")
    # year >= 2020 or archived, drafts excluded, by year then title (one round trip each)
    assert listed(client.get("/?since=2020")) == ["Newest", "Also 2020"]
    assert listed(client.get("/?since=2020&page=2")) == ["Redis &amp; Django", "Sets"]


def test_detail_renders_fields_and_tags_and_404s(client, posts):
    pk = posts["Redis & Django"].pk.get()
    response = client.get(f"/{pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Redis &amp; Django</h1>" in html
    assert "2020 · published" in html
    assert "<li>django</li>" in html and "<li>redis</li>" in html
    assert client.get("/999/").status_code == 404


def test_create_then_uniqueness_error(client):
    data = {"title": "Hello", "status": "published", "year": "2022", "tags": "a\nb"}
    response = client.post("/new/", data)
    assert response.status_code == 302
    post = Post.objects.get(title="Hello")
    assert response["Location"] == f"/{post.pk.get()}/"
    assert post.tags.smembers() == {"a", "b"}
    # the indexes are filled: status (equal) and year (range) find it
    assert [p.pk.get() for p in Post.objects.filter(status="published", year__gte=2020)] == [
        post.pk.get()
    ]
    assert consistency_check(Post) == []

    again = client.post("/new/", {**data, "year": "2023"})
    assert again.status_code == 200
    html = again.content.decode()
    title_field = html.split('<div id="title-field">')[1].split("</div>")[0]
    assert "Post with this title already exists." in title_field
    assert again.context["form"].errors == {"title": ["Post with this title already exists."]}
    assert Post.objects.count() == 1


def test_update_form(client, posts):
    post = posts["Sets"]
    pk = post.pk.get()
    form_page = client.get(f"/{pk}/edit/")
    assert form_page.status_code == 200
    assert 'value="Sets"' in form_page.content.decode()
    response = client.post(
        f"/{pk}/edit/", {"title": "Sorted sets", "status": "published", "year": "2016", "tags": "z"}
    )
    assert response.status_code == 302
    assert post.hmget("title", "status", "year") == ["Sorted sets", "published", "2016"]
    assert post.tags.smembers() == {"z"}
    assert [p.pk.get() for p in Post.objects.filter(status="archived")] == []
    assert consistency_check(Post) == []
    # taking another post's title is refused on the update form too
    taken = client.post(f"/{pk}/edit/", {"title": "Newest", "status": "published"})
    assert taken.status_code == 200
    assert taken.context["form"].errors == {"title": ["Post with this title already exists."]}
    assert client.get("/999/edit/").status_code == 404


@blog_settings
class FixtureLoadedTests(TestCase):
    limpyd_fixtures = ["blog_posts.json"]  # tests/apps/blog/fixtures/

    def test_fixture_data_is_listed_and_shown(self):
        self.assertEqual(Post.objects.count(), 2)
        response = self.client.get("/")
        self.assertEqual(listed(response), ["From the fixture"])  # the draft is excluded
        detail = self.client.get("/10/")
        self.assertContains(detail, "<h1>From the fixture</h1>")
        self.assertContains(detail, "<li>fixture</li>")

    def test_1_fixture_is_indexed(self):  # (unittest runs the tests in name order)
        Post.objects.get(pk="11").hmset(status="published")
        self.assertEqual(Post.objects.get(status="published", year__gte=2022).pk.get(), "11")
        self.assertEqual(consistency_check(Post), [])

    def test_2_fixture_is_loaded_again_after_test_1_changed_it(self):
        self.assertEqual(Post.objects.get(pk="11").status.hget(), "draft")
