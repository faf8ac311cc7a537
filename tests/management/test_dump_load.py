"""``limpyd_dump`` / ``limpyd_load``: a round trip, refusals, and ``limpyd_fixtures``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

import django_limpyd
from django_limpyd import fields, registry
from django_limpyd.consistency import consistency_check
from django_limpyd.model import RedisModel
from django_limpyd.test import SimpleTestCase
from django_limpyd.test.fixtures import find_fixture, load_fixtures
from tests.apps.shop import redis_models as shop
from tests.management.conftest import run
from tests.tools.keyspace import contents

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "shop_small.json")


@pytest.fixture
def kitchen_model() -> Iterator[type]:
    """``shop.Kitchen``: an AutoPK model with a field of every type, indexed."""
    model = type(
        "Kitchen",
        (RedisModel,),
        {
            "__module__": "tests.apps.shop.redis_models",
            "name": fields.StringField(unique=True),
            "city": fields.InstanceHashField(indexable=True),
            "tags": fields.SetField(indexable=True),
            "steps": fields.ListField(indexable=True),
            "scores": fields.SortedSetField(indexable=True),
            "attrs": fields.HashField(indexable=True),
        },
    )
    yield model
    registry.unregister(model)


@pytest.fixture
def kitchens(data: dict[str, Any], kitchen_model: type) -> list[Any]:
    return [
        kitchen_model(
            name="k1",
            city="a*b",
            tags=["x", "a?c", "b"],
            steps=["s1", "s2", "s1"],
            scores={"m": 1.5, "n": -2},
            attrs={"k": "v", "[ab]": "{x}"},
        ),
        kitchen_model(name="k2", tags=["y"]),
        kitchen_model(city="only the city"),
    ]


def test_dump_shape(kitchens, kitchen_model):
    result = run("limpyd_dump", "shop.Kitchen", "shop.Foo")
    objects = json.loads(result.stdout)
    assert objects[0] == {
        "model": "shop.kitchen",
        "pk": "1",
        "fields": {
            "name": "k1",
            "city": "a*b",
            "tags": ["a?c", "b", "x"],
            "steps": ["s1", "s2", "s1"],
            "scores": [["n", -2.0], ["m", 1.5]],
            "attrs": {"k": "v", "[ab]": "{x}"},
        },
    }
    assert objects[1] == {
        "model": "shop.kitchen",
        "pk": "2",
        "fields": {"name": "k2", "tags": ["y"]},
    }
    assert objects[2]["fields"] == {"city": "only the city"}
    assert [o["model"] for o in objects[3:]] == ["shop.foo"] * 8
    assert result.stderr.splitlines() == [
        "shop.Kitchen: 3 instances dumped.",
        "shop.Foo: 8 instances dumped.",
    ]
    assert run("limpyd_dump", "shop.Foo", verbosity=0).stderr == ""


def test_round_trip_gives_identical_keys_and_values(kitchens, raw, tmp_path):
    models = [m for m in registry.get_models()]
    before = {db: contents(raw[db]) for db in (0, 1)}
    path = tmp_path / "data.json"
    run("limpyd_dump", output=str(path), chunk_size=2)
    run("limpyd_dump", database="other", output=str(tmp_path / "other.json"))
    for client in raw.values():
        client.flushdb()
    result = run("limpyd_load", str(path), chunk_size=3)
    assert "shop.Kitchen: 3 instances loaded." in result.stderr.splitlines()
    assert result.lines == [f"Installed {len(json.loads(path.read_text()))} objects."]
    run("limpyd_load", str(tmp_path / "other.json"), database="other")
    assert {db: contents(raw[db]) for db in (0, 1)} == before
    for model in models:
        assert consistency_check(model) == [], model
    # the AutoPK counter is past the loaded pks: the next create takes 4
    assert registry.get_model("shop.Kitchen")(name="k4").pk.get() == "4"


def test_load_refuses_an_existing_pk_before_any_write(kitchens, raw, tmp_path):
    path = tmp_path / "data.json"
    run("limpyd_dump", "shop.Kitchen", "shop.Foo", output=str(path))
    connection = django_limpyd.databases["default"].connection
    connection.delete(*[k for k in connection.keys("{shop:Kitchen}*")])
    before = contents(raw[0])
    with pytest.raises(CommandError, match=r"shop.Foo '1' already exists; nothing was loaded"):
        run("limpyd_load", str(path))
    assert contents(raw[0]) == before


def test_load_refuses_bad_files(data, tmp_path, raw):
    before = contents(raw[0])
    bad = tmp_path / "bad.json"
    bad.write_text('[{"model": "shop.foo", "pk": ')
    with pytest.raises(CommandError, match="is not valid JSON"):
        run("limpyd_load", str(bad))
    bad.write_text('{"model": "shop.foo"}')
    with pytest.raises(CommandError, match="expected a list of objects"):
        run("limpyd_load", str(bad))
    bad.write_text('[{"model": "shop.nope", "pk": "1"}]')
    with pytest.raises(CommandError, match="object #0: Model 'shop.nope' not registered"):
        run("limpyd_load", str(bad))
    bad.write_text('[{"model": "shop.foo", "pk": "99", "fields": {"nope": "x"}}]')
    with pytest.raises(CommandError, match="shop.Foo '99': unknown field 'nope'"):
        run("limpyd_load", str(bad))
    bad.write_text('[{"model": "shop.foo", "pk": "abc", "fields": {}}]')
    with pytest.raises(CommandError, match="AutoPKField pk must be a positive integer"):
        run("limpyd_load", str(bad))
    bad.write_text('[{"model": "crm.contact", "pk": "5", "fields": {}}]')
    with pytest.raises(CommandError, match="crm.Contact lives on the 'other' database"):
        run("limpyd_load", str(bad))
    with pytest.raises(CommandError, match="Cannot read"):
        run("limpyd_load", str(tmp_path / "missing.json"))
    assert contents(raw[0]) == before


def test_load_reports_a_uniqueness_error_naming_model_and_pk(data, tmp_path):
    shop.Person(name="Ann", city="x")
    path = tmp_path / "data.json"
    path.write_text(
        '[{"model": "shop.person", "pk": "40", "fields": {"name": "Ann"}},'
        ' {"model": "shop.person", "pk": "41", "fields": {"name": "Bob"}}]'
    )
    with pytest.raises(CommandError, match=r"shop.Person '40': .*'Ann' already exists"):
        run("limpyd_load", str(path))
    assert not shop.Person.exists(pk="40")
    assert shop.Person.exists(pk="41")


class FixtureTests(SimpleTestCase):
    limpyd_databases = ["default"]
    limpyd_fixtures = [FIXTURE]

    def test_fixture_is_loaded(self):
        assert shop.Foo("7").value.get() == "seven"
        assert shop.Person.get(name="Ann").city.hget() == "Paris"
        assert consistency_check(shop.Person) == []

    def test_each_test_starts_from_the_fixture(self):
        shop.Foo("7").delete()
        assert shop.Foo.collection().count() == 0


def test_chunk_size_must_be_positive(data, tmp_path):
    with pytest.raises(CommandError, match="--chunk-size must be a positive integer, got 0"):
        run("limpyd_dump", chunk_size=0)
    with pytest.raises(CommandError, match="--chunk-size must be a positive integer, got 0"):
        run("limpyd_load", FIXTURE, chunk_size=0)


def test_fixtures_are_found_like_djangos(settings):
    where = "tests.FixtureTests"
    settings.FIXTURE_DIRS = [os.path.dirname(FIXTURE)]
    assert find_fixture("shop_small", where) == FIXTURE
    assert find_fixture(FIXTURE, where) == FIXTURE
    with pytest.raises(ImproperlyConfigured, match="fixture 'nope.json' not found in"):
        find_fixture("nope", where)
    with pytest.raises(ImproperlyConfigured, match="must be a list, not a string"):
        load_fixtures("shop_small", where)


def test_load_streams_the_file(data, tmp_path, raw, monkeypatch):
    """Objects are read one at a time (never ``json.load`` of the file, blocks of a
    few characters here), all checked before the first write, then written."""
    from django_limpyd.management import jsonstream

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file is streamed, not json.load-ed")

    monkeypatch.setattr(json, "load", refuse)
    monkeypatch.setattr(jsonstream, "READ_SIZE", 7)
    objects = [
        {"model": "shop.person", "pk": str(pk), "fields": {"name": f"p{pk}", "city": "x"}}
        for pk in range(100, 160)
    ]
    path = tmp_path / "people.json"
    path.write_text(json.dumps(objects, indent=1))
    bad = tmp_path / "bad.json"
    # the last object is wrong: nothing at all is written
    bad.write_text(json.dumps([*objects, {"model": "shop.person", "pk": "7", "fields": []}]))
    before = contents(raw[0])
    with pytest.raises(CommandError, match="bad.json: shop.Person '7': 'fields' must be an object"):
        run("limpyd_load", str(bad))
    # invalid JSON after valid objects: its character is named, nothing is written
    bad.write_text(json.dumps(objects)[:-1] + ", nope]")
    with pytest.raises(CommandError, match=r"not valid JSON: Expecting value at character \d+"):
        run("limpyd_load", str(bad))
    # a pk given twice across two files
    with pytest.raises(CommandError, match=r"shop.Person '100' is given twice"):
        run("limpyd_load", str(path), str(path))
    assert contents(raw[0]) == before
    run("limpyd_load", str(path), chunk_size=7)
    assert shop.Person.collection(city="x").count() == 60
    assert consistency_check(shop.Person) == []


def test_load_reads_stdin(data, monkeypatch):
    import io

    text = json.dumps([{"model": "shop.person", "pk": "77", "fields": {"name": "Stdin"}}])
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    run("limpyd_load", "-")
    assert shop.Person(77).name.hget() == "Stdin"
