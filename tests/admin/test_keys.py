"""The key browser: type, TTL, memory, size and preview of each key, the model it
belongs to, literal matching of glob characters, cursor paging, pages filled within
a budget of SCAN calls."""

from __future__ import annotations

import re
from collections import Counter

import pytest

import django_limpyd
from django_limpyd.admin import site
from django_limpyd.admin.views.keys import scan_pattern
from django_limpyd.test.commands import assert_num_commands, count_commands

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


def next_url(response):
    """The URL of the "Next page" link (``None``: the scan is complete)."""
    match = re.search(
        r'href="(\?[^"]*cursor=\d+[^"]*)"[^>]*id="limpyd-next-page"', response.content.decode()
    )
    return KEYS + match.group(1).replace("&amp;", "&") if match else None


def status(response):
    """The line saying how far the scan of the page went."""
    body = response.content.decode()
    line = re.search(r'id="limpyd-scan-status">(.*?)</p>', body, re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", line)).strip()


def walk(client, url):
    """``[(response, page rows)]`` of every page, following the "Next page" links."""
    pages = []
    while url:
        response = client.get(url)
        pages.append((response, rows(response)))
        url = next_url(response)
        assert len(pages) < 100
    return pages


def test_cursor_paging(superuser_client, connection):
    connection.mset({f"key:{i:03}": i for i in range(250)})
    pages = walk(superuser_client, KEYS + "?count=60")
    seen = Counter(key for _response, page in pages for key in page)
    assert set(seen) == {f"key:{i:03}" for i in range(250)}
    assert set(seen.values()) == {1}
    assert len(pages) >= 3
    assert all(len(page) >= 60 for _response, page in pages[:-1])
    last = pages[-1][0]
    assert "Scan complete." in status(last)
    assert "First page" in last.content.decode()


@pytest.fixture
def big_keyspace(connection):
    """20,000 keys, and 30 keys starting with ``wanted:`` among them."""
    for start in range(0, 20_000, 5_000):
        connection.mset({f"noise:{i:05}": "x" for i in range(start, start + 5_000)})
    wanted = {f"wanted:{i:02}" for i in range(30)}
    connection.mset(dict.fromkeys(wanted, "v"))
    return wanted


def scans(recorder):
    return sum(command[0] == "SCAN" for command in recorder.commands)


def test_a_selective_pattern_fills_its_page(superuser_client, big_keyspace):
    # 30 keys of 20,030 match: the page needs many SCAN calls of a growing COUNT
    url = KEYS + "?q=wanted:&count=10"
    with count_commands() as recorder:
        response = superuser_client.get(url)
    page = rows(response)
    assert 10 <= len(page) < 30  # a page ends with a whole SCAN batch
    assert set(page) <= big_keyspace
    calls = scans(recorder)
    assert 1 < calls <= site.key_browser_max_scans
    # DBSIZE with the first SCAN, then each SCAN; the page's keys in two round trips
    assert recorder.num_commands == 1 + calls + 5 * len(page), recorder.describe()
    assert recorder.num_round_trips == calls + 2
    assert f"{len(page)} keys matched on this page: {calls} SCAN calls from cursor 0" in status(
        response
    )
    assert "of the 20,030 keys of the database" in status(response)
    assert status(response).endswith("More to scan. Next page")


def test_the_next_pages_reach_every_key_once(superuser_client, big_keyspace):
    pages = walk(superuser_client, KEYS + "?q=wanted:&count=10")
    seen = Counter(key for _response, page in pages for key in page)
    assert set(seen) == big_keyspace
    assert set(seen.values()) == {1}, seen  # each key once over the walk
    assert all(len(page) >= 10 for _response, page in pages[:-1])
    assert "Scan complete." in status(pages[-1][0])


def test_a_budget_of_scan_calls_per_page(superuser_client, big_keyspace, monkeypatch):
    monkeypatch.setattr(site, "key_browser_max_scans", 3)
    monkeypatch.setattr(site, "key_browser_max_scan_count", 100)
    url = KEYS + "?q=nothing-has-this-name&count=10"
    # DBSIZE and the first SCAN in one round trip, then two SCAN: never more
    with assert_num_commands(4, round_trips=3) as recorder:
        response = superuser_client.get(url)
    assert [command[0] for command in recorder.commands] == ["DBSIZE"] + ["SCAN"] * 3
    # the COUNT hint grows while nothing matches, up to the most allowed
    assert [command[5] for command in recorder.commands[1:]] == [10, 40, 100]
    assert "about 150 of the 20,030 keys" in status(response)
    assert "More to scan (the page stopped after 3 SCAN calls, its budget)." in status(response)
    assert "No key found on this page of the scan: the next page may hold some." in (
        response.content.decode()
    )
    with assert_num_commands(4, round_trips=3):
        response = superuser_client.get(next_url(response))
    assert "cursor=" in next_url(response)


def test_the_budget_bounds_a_page_that_finds_keys(superuser_client, big_keyspace, monkeypatch):
    monkeypatch.setattr(site, "key_browser_max_scans", 4)
    monkeypatch.setattr(site, "key_browser_max_scan_count", 1000)
    seen: Counter = Counter()
    for _response, page in walk(superuser_client, KEYS + "?q=wanted:&count=25"):
        seen.update(list(page))
    assert set(seen) == big_keyspace
    assert set(seen.values()) == {1}
    with count_commands() as recorder:
        response = superuser_client.get(KEYS + "?q=wanted:&count=25")
    # 25 matches need about 17,000 keys examined: four calls of 1,000 cannot fill it
    assert scans(recorder) == 4
    assert recorder.num_commands == 1 + 4 + 5 * len(rows(response))


@pytest.mark.parametrize(
    ("query", "count", "error"),
    [
        ("?count=-5", "1", "Per page: -5 is less than 1; 1 is used."),
        ("?count=0", "1", "Per page: 0 is less than 1; 1 is used."),
        ("?count=x", "100", "Per page: &#x27;x&#x27; is not a number; 100 is used."),
        ("?count=1.5", "100", "Per page: &#x27;1.5&#x27; is not a number; 100 is used."),
        ("?count=5000", "1000", "Per page: 5000 is more than 1000; 1000 is used."),
        ("?cursor=-1", "100", "Cursor: -1 is less than 0; 0 is used."),
        ("?cursor=x", "100", "Cursor: &#x27;x&#x27; is not a number; 0 is used."),
        (
            "?cursor=99999999999999999999999",
            "100",
            "Cursor: 99999999999999999999999 is more than 18446744073709551615; "
            "18446744073709551615 is used.",
        ),
        ("?match=glob&q=k", "100", None),
        ("?model=nope.nope", "100", None),
        ("?count=", "100", None),
    ],
)
def test_bad_parameters_are_reported_and_clamped(superuser_client, connection, query, count, error):
    connection.set("k", "v")
    response = superuser_client.get(KEYS + query)
    assert response.status_code == 200, query
    body = response.content.decode()
    assert f'name="count" value="{count}"' in body
    if error is None:
        assert 'id="limpyd-key-errors"' not in body
    else:
        errors = re.search(r'id="limpyd-key-errors">(.*?)</div>', body, re.S).group(1)
        assert re.findall(r"<li>(.*?)</li>", errors) == [error]


def test_the_next_link_keeps_the_clamped_page_size(superuser_client, connection):
    connection.mset({f"key:{i:03}": i for i in range(30)})
    response = superuser_client.get(KEYS + "?count=-3")
    assert "count=1&" in next_url(response) or next_url(response).endswith("count=1")


def test_a_model_and_a_text_no_key_of_it_can_start_with(superuser_client, books):
    with assert_num_commands(0):
        response = superuser_client.get(KEYS, {"model": "library.book", "q": "{library:Author}"})
    assert rows(response) == {}
    assert "nothing was scanned" in status(response)
    # a text starting with the model's prefix narrows the MATCH pattern
    response = superuser_client.get(KEYS, {"model": "library.book", "q": "{library:Book}:h:"})
    assert "MATCH {library:Book}:h:*" in response.content.decode()
    assert set(rows(response)) == {f"{{library:Book}}:h:{i}" for i in range(1, 7)}
    # shorter than the prefix: the model's keys
    response = superuser_client.get(KEYS, {"model": "library.book", "q": "{lib"})
    assert all(key.startswith("{library:Book}:") for key in rows(response))
    assert "MATCH {library:Book}:*" in response.content.decode()
    # contains: the model's keys, kept when they contain the text
    response = superuser_client.get(
        KEYS, {"model": "library.book", "q": ":tags:", "match": "contains"}
    )
    assert set(rows(response)) == {
        "{library:Book}:f:tags:1",
        "{library:Book}:x:tags:eq:classic",
        "{library:Book}:x:tags:eq:dragons",
    }


def test_other_database(superuser_client, library):
    library.Shelf(code="A")
    table = rows(superuser_client.get("/admin/redis/-/keys/other/"))
    assert table["{library:Shelf}:pks"]["model"] == "library.Shelf"
    assert not any(key.startswith("{library:Book}") for key in table)
