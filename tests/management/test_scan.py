"""``limpyd_scan``: SCAN of every key, of a glob pattern, of exactly one model's keys."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

import django_limpyd
from django_limpyd.storage.keys import glob_escape
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop
from tests.management.conftest import keys_of, run


def listed(result):
    return set(result.lines)


def test_every_key_of_the_database(data, raw):
    result = run("limpyd_scan")
    every = {key.decode() for key in raw[0].keys("*")}
    assert listed(result) == every
    assert len(result.lines) == len(every)  # nothing listed twice
    assert result.stderr.strip() == f"{len(every)} keys on the 'default' database."


@pytest.mark.parametrize(
    "model, neighbour",
    [(shop.Foo, shop.FooBar), (shop.FooBar, shop.Foo), (shop.Person, crm.Person)],
)
def test_model_lists_exactly_its_keys(data, raw, model, neighbour):
    result = run("limpyd_scan", model=model._meta.label)
    expected = keys_of(raw[0], model)
    assert expected and listed(result) == expected
    assert listed(result).isdisjoint(keys_of(raw[0], neighbour))


def test_model_keys_with_glob_characters_in_pks_and_values(data, raw, tag_model):
    result = run("limpyd_scan", "--model", "shop.Tag")
    assert listed(result) == keys_of(raw[0], tag_model)
    for pk in ("a*b", "[ab]", "{x}", "x}:y"):
        assert tag_model._meta.keys.field("label", pk) in listed(result)


def test_match_is_a_user_glob_pattern(data):
    index = shop.Foo.get_field("value").get_index()
    key = index.get_storage_key("a?c")
    assert run("limpyd_scan", match=glob_escape(key)).lines == [key]  # a literal "?"
    loose = listed(run("limpyd_scan", match=key))  # "?" as a wildcard
    assert loose == {key, index.get_storage_key("abc")}


def test_model_and_match_keep_keys_matching_both(data):
    foo_pks = shop.Foo._meta.keys.pks
    assert run("limpyd_scan", model="shop.Foo", match="*:pks").lines == [foo_pks]
    # a pattern that matches FooBar's keys too: only Foo's are kept
    result = run("limpyd_scan", model="shop.Foo", match="{shop:Foo*")
    assert listed(result) == set(shop.Foo.scan_model_keys())
    assert run("limpyd_scan", model="shop.Foo", match="nothing*").lines == []


def test_type_and_ttl_columns(data):
    connection = django_limpyd.databases["default"].connection
    connection.set("plain:key", "1", ex=500)
    connection.sadd("plain:set", "1")
    lines = run("limpyd_scan", "--match", "plain:*", "--type", "--ttl", count=1).lines
    assert len(lines) == 2
    by_key = {line.split()[-1]: line.split()[:-1] for line in lines}
    assert by_key["plain:set"] == ["set", "-"]
    assert by_key["plain:key"][0] == "string" and 490 < int(by_key["plain:key"][1]) <= 500
    assert run("limpyd_scan", "--match", "plain:set", "--ttl").lines == ["       - plain:set"]
    assert run("limpyd_scan", "--match", "plain:set", "--type").lines == ["set    plain:set"]


def test_other_database(data, raw):
    result = run("limpyd_scan", "--database", "other", "--model", "crm.Contact")
    assert listed(result) == keys_of(raw[1], crm.Contact) != set()
    assert listed(run("limpyd_scan", database="other")) == {k.decode() for k in raw[1].keys("*")}
    assert run("limpyd_scan", verbosity=0).stderr == ""


@pytest.mark.parametrize(
    "options, message",
    [
        ({"match": 12}, "--match must be a non-empty glob pattern string, got 12"),
        ({"match": ""}, "--match must be a non-empty glob pattern"),
        ({"count": 0}, "--count must be a positive integer"),
        ({"count": "10"}, "--count must be a positive integer"),
        ({"model": "shop"}, "'shop' is not a model label: expected 'app_label.ModelName'"),
        ({"model": "shop.Nope"}, "Unknown Redis model 'shop.Nope'. Known models: .*shop.Foo"),
        ({"model": "crm.Contact"}, "crm.Contact lives on the 'other' database, not on 'default'"),
        ({"database": "nope"}, "Unknown database 'nope'"),
    ],
)
def test_bad_input(data, options, message):
    with pytest.raises(CommandError, match=message):
        run("limpyd_scan", **options)


def test_bad_database_on_the_command_line():
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        run("limpyd_scan", "--database", "nope")
