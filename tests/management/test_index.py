"""``limpyd_index rebuild|check``: rebuild indexes, find differences, repair them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import django_limpyd
from django_limpyd import registry
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop
from tests.management.conftest import dump_all, keys_of, run


def every_model_ok():
    """The output of a clean check of every registered model (``shop.Tag`` included)."""
    models = registry.get_models()
    labels = [stored._meta.label for model in models for stored in model._meta.stored_models]
    assert {"shop.Foo", "shop.FooBar", "shop.Tag", "crm.Person", "crm.Contact"} <= set(labels)
    reservations = [  # sharded models with unique fields (events.Ticket)
        f"{model._meta.label} reservations: OK"
        for model in models
        if model._meta.shard_models and model._meta.has_unique
    ]
    return [f"{label}: OK" for label in labels] + reservations


def index_key(model, value, field="value"):
    return model.get_field(field).get_index().get_storage_key(value)


@pytest.fixture
def connection():
    return django_limpyd.databases["default"].connection


def test_check_clean_data(data):
    assert run("limpyd_index", "check").lines == every_model_ok()
    assert run("limpyd_index", "check", "shop.Foo").lines == ["shop.Foo: OK"]
    assert run("limpyd_index", "check", "shop.Foo.value").lines == ["shop.Foo: OK"]
    assert run("limpyd_index", "check", database="other").lines == ["crm.Contact: OK"]
    assert run("limpyd_index", "check", verbosity=0).lines == []


def test_check_detects_a_corrupted_index_and_repair_fixes_it(data, raw, connection):
    bogus_in = index_key(shop.Foo, "a*b")
    connection.sadd(bogus_in, "bogus")
    connection.srem(index_key(shop.Foo, "[ab]"), data["foos"][3].pk.get())
    foobar = dump_all(raw[0])
    out = StringIO()
    with pytest.raises(CommandError, match="2 differences remain. Hint: run again with --repair"):
        call_command("limpyd_index", "check", "shop.Foo", stdout=out)
    with pytest.raises(CommandError, match="2 differences remain"):
        run("limpyd_index", "check")  # every model
    lines = out.getvalue().splitlines()
    assert lines[0] == "shop.Foo: 2 differences"
    assert f"  Foo.value EqualIndex: missing entry '4' in '{index_key(shop.Foo, '[ab]')}'" in lines
    assert f"  Foo.value EqualIndex: extra entry 'bogus' in '{bogus_in}'" in lines
    assert dump_all(raw[0]) == foobar  # check writes nothing

    result = run("limpyd_index", "check", "shop.Foo", "--repair")
    assert result.lines[0] == "shop.Foo: 2 differences"
    assert result.lines[-2:] == [
        "shop.Foo.value: 1 index rebuilt (8 instances read).",
        "shop.Foo: OK after repair",
    ]
    assert "bogus" not in connection.smembers(bogus_in)
    assert run("limpyd_index", "check").lines == every_model_ok()


def test_repair_of_a_field_label_and_of_every_model(data, connection):
    connection.sadd(index_key(shop.FooBar, "x}:y"), "ghost")
    other = django_limpyd.databases["other"].connection
    other.sadd(index_key(crm.Contact, "{x}", "person"), "ghost")
    result = run("limpyd_index", "check", "shop.FooBar.value", "--repair")
    assert result.lines[-1] == "shop.FooBar: OK after repair"
    with pytest.raises(CommandError, match="1 difference remains"):
        run("limpyd_index", "check", "crm.Contact")
    result = run("limpyd_index", "check", "--repair")
    assert "crm.Contact: OK after repair" in result.lines


def test_orphans_are_reported_not_repaired(data, connection):
    orphan = shop.Foo._meta.keys.field("value", "999")
    connection.set(orphan, "lost")
    with pytest.raises(CommandError, match="orphan keys are not index entries"):
        run("limpyd_index", "check", "shop.Foo", "--repair")
    # a field label only checks the field's indexes
    assert run("limpyd_index", "check", "shop.Foo.value").lines == ["shop.Foo: OK"]


def test_rebuild_a_model_or_a_field(data, raw, connection):
    index = shop.Foo.get_field("value").get_index()
    before = dump_all(raw[0])
    index.clear()
    assert not connection.exists(index_key(shop.Foo, "a*b"))
    result = run("limpyd_index", "rebuild", "shop.Foo")
    assert result.lines == ["shop.Foo.value: 1 index rebuilt (8 instances read)."]
    assert dump_all(raw[0]) == before
    shop.Person.get_field("city").get_index().clear()
    result = run("limpyd_index", "rebuild", "shop.Person.city", chunk_size=2)
    assert result.lines == ["shop.Person.city: 1 index rebuilt (3 instances read)."]
    assert dump_all(raw[0]) == before
    assert run("limpyd_index", "rebuild", database="other").lines == [
        "crm.Contact.person: 1 index rebuilt (8 instances read)."
    ]


def test_rebuild_everything(data, raw):
    before = {db: dump_all(client) for db, client in raw.items()}
    lines = run("limpyd_index", "rebuild").lines
    assert "shop.Tag.label: 1 index rebuilt (8 instances read)." in lines
    assert "crm.Contact.person: 1 index rebuilt (8 instances read)." in lines
    indexed = [
        f"{stored._meta.label}.{field.name}"
        for model in registry.get_models()
        for stored in model._meta.stored_models  # each shard of a sharded model
        for field in stored._meta.data_fields
        if field.indexes
    ]
    assert [line.split(":")[0] for line in lines] == indexed  # crm.Person.visits has none
    assert {db: dump_all(client) for db, client in raw.items()} == before
    assert keys_of(raw[1], crm.Contact)


@pytest.mark.parametrize(
    "args, options, message",
    [
        (["shop"], {}, "'shop' is not a label: expected 'app_label.ModelName'"),
        (["shop.Foo.value.x"], {}, "is not a label"),
        (["shop.Nope"], {}, "Unknown Redis model 'shop.Nope'. Known models: "),
        (["shop.Foo.nope"], {}, r"shop.Foo has no field 'nope' \(indexed fields: value\)"),
        (["shop.Foo.pk"], {}, "shop.Foo has no field 'pk'"),
        (["crm.Person.visits"], {}, r"crm.Person.visits has no index \(indexed fields: email\)"),
        (["crm.Contact"], {"database": "default"}, "crm.Contact lives on the 'other' database"),
        ([], {"database": "nope"}, "Unknown database 'nope'"),
        ([], {"chunk_size": 0}, "--chunk-size must be a positive integer, got 0"),
        ([], {"repair": True}, "--repair only goes with 'check'"),
    ],
)
def test_bad_input(args, options, message):
    action = "rebuild" if options.get("repair") else "check"
    with pytest.raises(CommandError, match=message):
        run("limpyd_index", action, *args, **options)


def test_unknown_action():
    with pytest.raises(CommandError, match="invalid choice: 'fix'"):
        run("limpyd_index", "fix")


def test_rebuild_upgrades_pks_kept_in_a_set_by_an_earlier_version(data, raw, connection):
    before = dump_all(raw[0])
    pks_key = shop.Foo._meta.keys.pks
    pks = connection.zrange(pks_key, 0, -1)
    assert len(pks) == 8 and connection.zscore(pks_key, "1") == 1.0  # an AutoPK model
    connection.delete(pks_key)
    connection.sadd(pks_key, *pks)  # the layout of earlier versions: a set
    result = run("limpyd_index", "rebuild", "shop.Foo")
    assert result.lines[0] == "shop.Foo: 8 pks moved to the sorted set of pks."
    assert dump_all(raw[0]) == before  # scores included
    assert run("limpyd_index", "rebuild", "shop.Foo").lines == [
        "shop.Foo.value: 1 index rebuilt (8 instances read)."
    ]
    assert list(shop.Foo.collection()[0:3]) == pks[0:3]
