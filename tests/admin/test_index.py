"""The index: databases and apps with counts, one app's index."""

from __future__ import annotations

import re

from django.conf import settings
from django.test import override_settings

from django_limpyd.test.commands import count_commands


def test_databases_and_models_with_counts(superuser_client, books, library):
    library.Shelf(code="A")
    page = superuser_client.get("/admin/redis/").content.decode()
    body = page.split('id="content-main"')[1]
    default = re.search(r'id="database-default">(.*?)</tr>', body, re.S).group(1)
    assert re.search(r'<td data-label="Server">Redis \d+\.\d+\.\d+</td>', default)
    assert re.search(r'<span class="mini quiet">(unix|redis)://[^<@]+</span>', default)
    assert re.search(r'<td class="limpyd-number" data-label="Keys">\d+</td>', default)
    assert 'href="/admin/redis/-/keys/default/"' in default
    assert 'href="/admin/redis/-/keys/other/"' in body
    book = re.search(r'class="model-book">(.*?)</tr>', body, re.S).group(1)
    assert '<td class="limpyd-number" title="instances">6</td>' in book
    assert 'href="/admin/redis/library/book/add/" class="addlink"' in book
    assert 'href="/admin/redis/library/book/" class="changelink"' in book
    shelf = re.search(r'class="model-shelf">(.*?)</tr>', body, re.S).group(1)
    assert "(other)" in shelf
    assert '<td class="limpyd-number" title="instances">1</td>' in shelf
    # the navigation sidebar lists the Redis apps too
    assert "Library (Redis)" in page.split('id="content-main"')[0]


def test_one_round_trip_per_database(superuser_client, books):
    with count_commands() as recorder:
        superuser_client.get("/admin/redis/")
    assert recorder.num_round_trips == 1  # the default database; "other" is another client


def test_staff_see_view_links_only(staff_client, books):
    body = staff_client.get("/admin/redis/").content.decode()
    assert "addlink" not in body.split('id="content-main"')[1]
    assert 'href="/admin/redis/library/book/" class="viewlink"' in body


def test_the_index_of_an_app(superuser_client, books):
    body = superuser_client.get("/admin/redis/library/").content.decode()
    assert "<h1>Library (Redis)</h1>" in body
    assert "Shop (Redis)</a></caption>" not in body
    assert 'class="model-book"' in body


def test_a_database_that_cannot_be_reached_shows_its_error(superuser_client, books):
    databases = {**settings.LIMPYD_DATABASES, "down": {"LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(LIMPYD_DATABASES=databases):
        response = superuser_client.get("/admin/redis/")
    assert response.status_code == 200
    down = re.search(r'id="database-down">(.*?)</tr>', response.content.decode(), re.S).group(1)
    assert 'class="limpyd-error">ConnectionError' in down


def test_models_with_expiry_count_live_instances(superuser_client, library):
    from django_limpyd import fields, registry
    from django_limpyd.model import RedisModel

    Pass = type(
        "Pass",
        (RedisModel,),
        {
            "__module__": library.__name__,
            "ttl": 60,
            "code": fields.InstanceHashField(indexable=True),
        },
    )
    try:
        passes = [Pass(code=f"c{i}") for i in range(4)]
        deadlines = {passes[0].pk.get(): 1, passes[1].pk.get(): 1}
        Pass._meta.database.connection.zadd(Pass._meta.keys.expiry, deadlines)  # no cleanup

        def cell():
            body = superuser_client.get("/admin/redis/").content.decode()
            body = body.split('id="content-main"')[1]
            row = re.search(r'class="model-pass">(.*?)</tr>', body, re.S).group(1)
            return re.search(r'title="instances">(.*?)</td>', row, re.S).group(1)

        assert cell() == "2 (+2 expired, awaiting cleanup)"
        with count_commands() as recorder:
            superuser_client.get("/admin/redis/")
        assert recorder.num_round_trips == 1
        assert Pass.delete_expired() == 2
        assert cell() == "2"
    finally:
        registry.unregister(Pass)
