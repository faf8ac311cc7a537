"""The key browser: type, TTL, memory, size and preview of each key, the model it
belongs to, literal matching of glob characters, cursor paging."""

from __future__ import annotations

import re

import pytest

import django_limpyd
from django_limpyd.admin.views.keys import scan_pattern

KEYS = "/admin/redis/-/keys/default/"


@pytest.fixture
def connection():
    return django_limpyd.databases["default"].connection


def rows(response):
    """``{key: {column: text}}`` of the table."""
    body = response.content.decode()
    result = {}
    for row in re.findall(r"<tr>\s*<th class=\"field-key\">(.*?)</tr>", body, re.S):
        key = re.search(r'<code class="limpyd-key">(.*?)</code>', row).group(1)
        cells = dict(re.findall(r'<td class="field-(\w+)[^"]*">(.*?)</td>', row, re.S))
        result[key] = {
            name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", value)).strip()
            for name, value in cells.items()
        }
    return result


def test_every_type_with_ttl_memory_size_and_preview(superuser_client, connection):
    connection.set("s", "hello world")
    connection.expire("s", 100)
    connection.hset("h", mapping={"b": "2", "a": "1"})
    connection.sadd("set", "y", "x")
    connection.rpush("l", "first", "second", "third")
    connection.zadd("z", {"low": 1, "high": 2.5})
    connection.xadd("st", {"f": "v"}, id="1-1")
    connection.set("long", "x" * 500)
    connection.rpush("many", *range(20))
    table = rows(superuser_client.get(KEYS))
    assert table["s"]["type"] == "string"
    assert re.fullmatch(r"(100|99) s \(0:01:(40|39)\)", table["s"]["ttl"])
    assert table["s"]["size"] == "11"
    assert table["s"]["preview"] == "hello world"
    assert table["s"]["memory"].endswith("bytes")
    assert table["h"] == {**table["h"], "type": "hash", "size": "2", "preview": "a=1, b=2"}
    assert table["set"]["preview"] == "x, y"
    assert table["l"]["preview"] == "first, second, third"
    assert table["z"]["preview"] == "low (1), high (2.5)"
    assert table["st"]["type"] == "stream"
    assert table["st"]["preview"] == "1-1: f=v"
    assert table["long"]["preview"] == "x" * 80 + "…"
    assert table["many"]["preview"] == "0, 1, 2, 3, 4 +15"
    assert table["l"]["ttl"] == "no expiry"


def test_binary_values_and_names_are_shown_escaped(superuser_client, connection):
    connection.set(b"bin\xff", b"\x80\x00abc")
    connection.sadd("bset", b"\xfe")
    table = rows(superuser_client.get(KEYS))
    assert table["bin\\xff"]["preview"] == "\\x80\\x00abc"  # control characters too
    assert table["bset"]["preview"] == "\\xfe"


def test_the_model_a_key_belongs_to(superuser_client, books):
    body = superuser_client.get(KEYS).content.decode()
    table = rows(superuser_client.get(KEYS))
    assert table["{library:Book}:h:1"]["model"] == "library.Book"
    assert table["{library:Author}:pks"]["model"] == "library.Author"
    assert '<a href="/admin/redis/library/book/">library.Book</a>' in body


def test_the_keys_of_a_model(superuser_client, books, connection):
    from tests.apps.shop.redis_models import Foo, FooBar

    Foo(value="x")
    FooBar(value="x")  # its prefix starts like Foo's
    table = rows(superuser_client.get(KEYS, {"model": "shop.foo"}))
    assert table
    assert all(key.startswith("{shop:Foo}:") for key in table)
    table = rows(superuser_client.get(KEYS, {"model": "library.book", "q": "{library:Book}:f:t"}))
    assert set(table) == {"{library:Book}:f:tags:1"}


GLOBBY = ["a*b", "a?c", "abc", "[ab]", "a[b]", "\\*", "a\\b", "{x}"]


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("a*", "prefix", {"a*b"}),
        ("a?", "prefix", {"a?c"}),
        ("a", "prefix", {"a*b", "a?c", "abc", "a[b]", "a\\b"}),
        ("[ab]", "prefix", {"[ab]"}),
        ("[", "contains", {"[ab]", "a[b]"}),
        ("\\", "contains", {"\\*", "a\\b"}),
        ("*", "contains", {"a*b", "\\*"}),
        ("b]", "contains", {"[ab]", "a[b]"}),
        ("{x", "prefix", {"{x}"}),
        ("", "prefix", set(GLOBBY)),
    ],
)
def test_glob_characters_find_themselves(superuser_client, connection, text, mode, expected):
    for key in GLOBBY:
        connection.set(key, "v")
    response = superuser_client.get(KEYS, {"q": text, "match": mode})
    assert set(rows(response)) == expected
    assert f"MATCH {scan_pattern(text, mode)}" in response.content.decode().replace("&#x27;", "'")


def test_scan_pattern_escapes_every_glob_character():
    assert scan_pattern("a*b?[c]\\", "prefix") == "a\\*b\\?\\[c\\]\\\\*"
    assert scan_pattern("x", "contains") == "*x*"


def test_cursor_paging(superuser_client, connection):
    connection.mset({f"key:{i:03}": i for i in range(250)})
    seen: set[str] = set()
    url, pages = KEYS + "?count=60", 0
    while url:
        response = superuser_client.get(url)
        page = rows(response)
        assert page or pages == 0 or "Next page" in response.content.decode()
        seen |= set(page)
        pages += 1
        match = re.search(
            r'href="(\?[^"]*cursor=\d+[^"]*)"[^>]*id="limpyd-next-page"', response.content.decode()
        )
        url = KEYS + match.group(1).replace("&amp;", "&") if match else None
        assert pages < 50
    assert seen == {f"key:{i:03}" for i in range(250)}
    assert pages >= 3
    assert "End of the scan." in response.content.decode()
    assert "First page" in response.content.decode()


def test_bad_parameters_are_clamped(superuser_client, connection):
    connection.set("k", "v")
    for query in (
        "?count=-5",
        "?count=x",
        "?cursor=-1",
        "?cursor=99999999999999999999999",
        "?match=glob&q=k",
        "?model=nope.nope",
    ):
        assert superuser_client.get(KEYS + query).status_code == 200, query


def test_other_database(superuser_client, library):
    library.Shelf(code="A")
    table = rows(superuser_client.get("/admin/redis/-/keys/other/"))
    assert table["{library:Shelf}:pks"]["model"] == "library.Shelf"
    assert not any(key.startswith("{library:Book}") for key in table)
