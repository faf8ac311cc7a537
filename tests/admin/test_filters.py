"""The filters and the search of the list page: counts narrowed by the other
filters, case-insensitive search through an index's transform, search of every
search field, column titles."""

from __future__ import annotations

import re

import pytest

BOOK = "/admin/redis/library/book/"
WRITER = "/admin/redis/library/writer/"


@pytest.fixture
def writers():
    """``library.Writer``: a name with a case-insensitive text index (a transform
    lowercasing it), a city with a plain text index, a birth year; for one test."""
    from django_limpyd import fields, registry
    from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
    from django_limpyd.model import RedisModel

    writer = type(
        "Writer",
        (RedisModel,),
        {
            "__module__": "tests.admin.library.redis_models",
            "name": fields.InstanceHashField(
                indexable=True,
                indexes=[EqualIndex, TextRangeIndex.configure(prefix="ci", transform=str.lower)],
            ),
            "city": fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex]),
            "birth_year": fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex]),
        },
    )
    for name, city, year in [
        ("Ursula Le Guin", "Berkeley", "1929"),
        ("urban Writer", "Portland", "1950"),
        ("Octavia Butler", "Pasadena", "1947"),
        ("Philip K. Dick", "Chicago", "1928"),
        ("Paul", "Urbana", "1960"),
    ]:
        writer(name=name, city=city, birth_year=year)
    yield writer
    registry.unregister(writer)


def names(response):
    return sorted(re.findall(r'<td class="field-name">\s*(.*?)\s*</td>', response.content.decode()))


def test_column_titles_are_verbose_names(superuser_client, writers):
    body = superuser_client.get(WRITER).content.decode()
    titles = re.findall(
        r'class="column-birth_year[^"]*">.*?<a href="[^"]*">([^<]*)</a>', body, re.S
    )
    assert titles == ["Birth year"]


def test_search_is_case_insensitive_where_the_index_lowercases(superuser_client, writers):
    response = superuser_client.get(WRITER + "?_q=URB&_qf=name")
    assert names(response) == ["urban Writer"]
    response = superuser_client.get(WRITER + "?_q=ur&_qf=name")
    assert names(response) == ["Ursula Le Guin", "urban Writer"]
    # the plain text index of city: case-sensitive
    assert names(superuser_client.get(WRITER + "?_q=urb&_qf=city")) == []
    assert names(superuser_client.get(WRITER + "?_q=Urb&_qf=city")) == ["Paul"]
    body = superuser_client.get(WRITER).content.decode()
    assert "name (any case), city (case-sensitive)" in body


def test_search_of_every_field(superuser_client, writers):
    """``_qf`` empty (the default with several fields): any field may match."""
    response = superuser_client.get(WRITER + "?_q=Urb")
    assert names(response) == ["Paul", "urban Writer"]  # city Urbana, name "urban..."
    body = response.content.decode()
    assert '<option value="" selected>All fields</option>' in body
    assert re.search(r'id="limpyd-result-count">2 of 5 writers<', body)
    # with a filter too
    response = superuser_client.get(WRITER + "?_q=Urb&birth_year__gte=1955")
    assert names(response) == ["Paul"]
    # nothing found
    assert names(superuser_client.get(WRITER + "?_q=zzz")) == []


def test_filter_counts_take_the_other_filters_into_account(superuser_client, books):
    def counts(query):
        body = superuser_client.get(BOOK + query).content.decode()
        choices = re.search(r'data-param="genre">(.*?)</ul>', body, re.S).group(1)
        return dict(re.findall(r">(\w+) <span class=\"quiet\">\((\d+)\)", choices))

    assert counts("") == {"classic": "2", "fantasy": "1", "sf": "3"}
    # the genre's own filter does not narrow its counts (they say what choosing gives)
    assert counts("?genre=sf") == {"classic": "2", "fantasy": "1", "sf": "3"}
    # another filter does
    assert counts("?year__gte=1950") == {"classic": "1", "fantasy": "0", "sf": "3"}
    assert counts("?year__gte=1950&genre=classic") == {"classic": "1", "fantasy": "0", "sf": "3"}
    # and the search
    assert counts("?_q=D") == {"classic": "0", "fantasy": "0", "sf": "1"}
