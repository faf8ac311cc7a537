"""``limpyd_models``: the table of registered models, their instances, keys and memory."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from django_limpyd.management.base import format_bytes
from tests.apps.crm import redis_models as crm
from tests.apps.shop import redis_models as shop
from tests.management.conftest import keys_of, run


def table(result):
    """``{(app, model): row}`` of the printed table (the header row checked)."""
    header, *rows = [line.split() for line in result.lines]
    assert header[:6] == ["app", "model", "database", "namespace", "instances", "keys"]
    return {(row[0], row[1]): row for row in rows}


def test_every_model_with_instances_and_keys(data, raw, tag_model):
    rows = table(run("limpyd_models"))
    for model, db in [
        (shop.Foo, 0),
        (shop.FooBar, 0),
        (shop.Person, 0),
        (crm.Person, 0),
        (crm.Contact, 1),
        (tag_model, 0),
    ]:
        meta = model._meta
        row = rows[(meta.app_label, meta.name)]
        instances = raw[db].zcard(meta.keys.pks)
        assert row == [
            meta.app_label,
            meta.name,
            ["default", "other"][db],
            meta.namespace,
            str(instances),
            str(len(keys_of(raw[db], model))),
        ]
        assert instances > 0
    assert rows[("crm", "Contact")][2:4] == ["other", "contacts"]


def test_one_database(data):
    result = run("limpyd_models", database="other")
    assert list(table(result)) == [("crm", "Contact")]


def test_empty_database_and_no_models(monkeypatch):
    assert table(run("limpyd_models"))[("shop", "Foo")][4:] == ["0", "0"]
    monkeypatch.setattr("django_limpyd.registry._models", {})
    assert run("limpyd_models").lines == ["No Redis models."]
    assert run("limpyd_models", database="other").lines == [
        "No Redis models on the 'other' database."
    ]


def test_memory_column(data, raw):
    rows = table(run("limpyd_models", "--memory"))
    foo = rows[("shop", "Foo")]
    keys = keys_of(raw[0], shop.Foo)
    exact = sum(raw[0].memory_usage(key) for key in keys)
    assert " ".join(foo[6:]) == format_bytes(exact)  # few keys: all read, no estimate


def test_memory_is_sampled_and_extrapolated(raw):
    for number in range(80):
        shop.Foo(value=f"v{number}")
    row = table(run("limpyd_models", "--memory"))[("shop", "Foo")]
    assert row[5] == "162"
    assert row[6].startswith("~") and row[7] in ("B", "KiB")
    exact = sum(raw[0].memory_usage(key) for key in keys_of(raw[0], shop.Foo))
    estimate = float(row[6][1:]) * (1024 if row[7] == "KiB" else 1)
    assert 0.5 * exact < estimate < 2 * exact


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 1023, 1536, 5 * 1024**2, 3 * 1024**4)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 MiB",
        "3072.0 GiB",
    ]


def test_unknown_database():
    with pytest.raises(CommandError, match="Unknown database 'nope'"):
        run("limpyd_models", database="nope")
    with pytest.raises(CommandError, match="invalid choice"):
        run("limpyd_models", "--database", "nope")
